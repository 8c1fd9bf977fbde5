"""The `metadata` extractor: rights, opt-out, provenance and generator signals embedded in an image file.

Reads EXIF (Artist, Copyright, ImageDescription, Software, XPAuthor, UserComment), IPTC-IIM (APP13),
XMP (JPEG APP1 incl. Extended XMP, PNG iTXt, WebP `XMP ` chunk, HEIF/AVIF via Pillow), PNG text chunks
(AI generators), AUTOMATIC1111's "stealth" metadata in alpha-channel LSBs, and C2PA manifest stores via
c2pa-python with remote-manifest and OCSP fetching off: an audit never touches the network. All XML is
parsed with defusedxml with DTDs forbidden, so entity expansion and external entities are refused before
anything is read. The extractor stores what the file says; the rights checks decide what it means.
Field names and vocabularies: docs/rights-signals.md.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from typing import Any, Iterator

from curate.extract.decode import Decoded

NAME = "metadata"
VERSION = 2  # 2: EXIF text read as UTF-8 when it is; Artist/Copyright that only name the camera dropped

MAX_TEXT = 4000  # characters kept of any one value (prompts can be long)
MAX_XMP_BYTES = 4 << 20  # XMP packets larger than this are not parsed
MAX_XMP_DEPTH = 64  # real XMP nests under 10 levels (xmpmeta/RDF/Description/property/Bag/li/...)
MAX_INFLATE = 1 << 20  # zTXt/iTXt chunks inflate to at most this many bytes

# XMP properties kept (lower-case local names); everything else in a packet is ignored.
XMP_KEEP = {
    "datamining",
    "otherconstraints",
    "embdencrightsexpr",
    "linkedencrightsexpr",
    "encrightsexpr",
    "linkedrightsexpr",
    "digitalsourcetype",
    "aisystemused",
    "aisystemversionused",
    "aipromptinformation",
    "aipromptwritername",
    "creator",
    "rights",
    "subject",
    "usageterms",
    "webstatement",
    "marked",
    "credit",
    "source",
    "licensorname",
    "licensorurl",
    "copyrightownername",
    "imagecreatorname",
    "assetid",
    "provenance",
    "reservation",
    "policy",
    "creatortool",
    "copyrightnotice",
}
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XMP_STD = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT = b"http://ns.adobe.com/xmp/extension/\x00"

# PNG text keys written by AI image generators (docs/rights-signals.md §5).
GENERATOR_KEYS = {
    "parameters",
    "prompt",
    "workflow",
    "dream",
    "sd-metadata",
    "invokeai_metadata",
    "invokeai_graph",
    "fooocus_scheme",
    "comment",
    "software",
    "source",
    "generation_data",
}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


# --- containers ---------------------------------------------------------------------------------


def jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(marker, payload) for each segment before the image data."""
    if data[:2] != b"\xff\xd8":
        return
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no more metadata segments
            return
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if length < 2:
            return
        yield marker, data[i + 4 : i + 2 + length]
        i += 2 + length


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return
    i = 8
    while i + 8 <= len(data):
        length = struct.unpack(">I", data[i : i + 4])[0]
        kind = data[i + 4 : i + 8]
        if i + 12 + length > len(data):
            return
        yield kind, data[i + 8 : i + 8 + length]
        if kind == b"IEND":
            return
        i += 12 + length


def riff_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return
    i = 12
    while i + 8 <= len(data):
        kind = data[i : i + 4]
        length = struct.unpack("<I", data[i + 4 : i + 8])[0]
        yield kind, data[i + 8 : i + 8 + length]
        i += 8 + length + (length & 1)


def _inflate(raw: bytes) -> bytes | None:
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, MAX_INFLATE)
    except zlib.error:
        return None
    return out


def png_text(kind: bytes, body: bytes) -> tuple[str, str] | None:
    """(keyword, text) of a tEXt / zTXt / iTXt chunk."""
    try:
        key, _, rest = body.partition(b"\x00")
        keyword = key.decode("latin-1")
        if kind == b"tEXt":
            return keyword, rest.decode("latin-1")
        if kind == b"zTXt":
            out = _inflate(rest[1:])
            return (keyword, out.decode("latin-1")) if out is not None else None
        if kind == b"iTXt":
            compressed, _method = rest[0], rest[1]
            _lang, _, rest2 = rest[2:].partition(b"\x00")
            _tkey, _, raw = rest2.partition(b"\x00")
            text = _inflate(raw) if compressed else raw
            if text is None:
                return None
            return keyword, text.decode("utf-8", "replace")
    except (IndexError, UnicodeDecodeError):
        return None
    return None


# --- XMP ------------------------------------------------------------------------------------------


def _as_utf8(packet: bytes) -> bytes:
    """XMP may be UTF-16 or UTF-32 (the XMP spec allows it; ExifTool's test files use it)."""
    head = packet[:4]
    for bom, enc in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
    ):
        if head.startswith(bom):
            return packet[len(bom) :].decode(enc, "replace").encode("utf-8")
    if head[:2] == b"\x00<":
        return packet.decode("utf-16-be", "replace").encode("utf-8")
    if head[:2] == b"<\x00":
        return packet.decode("utf-16-le", "replace").encode("utf-8")
    return packet


def parse_xmp(packet: bytes, out: dict[str, list[list[str]]]) -> str | None:
    """Merge the kept properties of one XMP packet into `out` ({local name: [[namespace, value], …]}).

    Returns None, or the reason the packet was refused (a DTD — entity expansion, external entities —
    or malformed XML)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if len(packet) > MAX_XMP_BYTES:
        return "XMP packet too large"
    packet = _as_utf8(packet)
    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    if start < 0:
        start = packet.find(b"<")
    if start < 0:
        return "no XML in XMP packet"
    # A DOCTYPE before the root is part of the document even when it precedes <x:xmpmeta>.
    doctype = packet.find(b"<!DOCTYPE")
    if 0 <= doctype < start:
        start = doctype
    end = packet.rfind(b">")
    text = packet[start : end + 1]
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        return f"refused hostile XML ({type(e).__name__}): nothing in it was read"
    except Exception as e:  # ParseError and friends
        return f"malformed XMP ({type(e).__name__})"

    def add(name: str, ns: str, value: str) -> None:
        local = name.lower()
        value = value.strip()
        if local in XMP_KEEP and value:
            vals = out.setdefault(local, [])
            if len(vals) < 64:
                vals.append([ns, _clip(value)])

    def split(tag: str) -> tuple[str, str]:
        if tag.startswith("{"):
            ns, _, local = tag[1:].partition("}")
            return ns, local
        return "", tag

    # Depth-first, in document order, with an explicit stack: a hostile packet nested thousands deep must not
    # exhaust Python's recursion (and lose what was read before it).
    too_deep = False
    stack: list[tuple[Any, tuple[str, str] | None, int]] = [(root, None, 0)]
    while stack:
        el, prop, depth = stack.pop()
        ns, local = split(el.tag)
        if ns != RDF:
            prop = (ns, local)
        for attr, value in el.attrib.items():
            ans, alocal = split(attr)
            if ans == RDF and alocal == "resource" and prop:
                add(prop[1], prop[0], value)
            elif ans not in (RDF, XML_NS, "") or (ans == "" and ns == RDF and alocal not in ("about", "parseType")):
                add(alocal, ans, value)
        children = list(el)
        if not children and el.text and prop and not (ns == RDF and local == "Description"):
            add(prop[1], prop[0], el.text)
        if depth >= MAX_XMP_DEPTH:
            too_deep = too_deep or bool(children)
            continue
        stack.extend((child, prop, depth + 1) for child in reversed(children))
    if too_deep:
        return f"XMP nested deeper than {MAX_XMP_DEPTH} levels: the deeper part was not read"
    return None


# --- EXIF and IIM -----------------------------------------------------------------------------------


def _exif_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):  # XP* tags may come back as a tuple of byte values
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 ").strip() or None
    return repair_utf8(str(value)).strip("\x00 ").strip() or None


def repair_utf8(text: str) -> str:
    """EXIF text as it was written. Pillow decodes EXIF ASCII fields as Latin-1, but cameras and editors write UTF-8
    there ("Â© feinknopf" was "© feinknopf"): text whose Latin-1 bytes are valid UTF-8 is decoded again. Plain
    ASCII is unchanged, and real Latin-1 text ("café" as E9) is not valid UTF-8, so it stays."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        return text
    if raw.isascii():
        return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return text


def _repeats_camera(value: str, make: str, model: str) -> bool:
    """An Artist or Copyright field that only repeats the camera (`Hasselblad H3D`): not a rights holder."""
    words = set(value.lower().replace(",", " ").split())
    camera = set(f"{make} {model}".lower().replace(",", " ").split())
    return bool(words) and bool(camera) and words <= camera


def user_comment(raw: Any) -> str | None:
    """EXIF UserComment: an 8-byte charset prefix, then the text (A1111 writes UTF-16 after UNICODE)."""
    if isinstance(raw, str):
        return raw.strip("\x00 ").strip() or None
    if not isinstance(raw, bytes) or len(raw) < 8:
        return None
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        texts = []
        for enc in ("utf-16-be", "utf-16-le"):
            t = body.decode(enc, "replace")
            texts.append((sum(c.isascii() and (c.isprintable() or c in "\n\t") for c in t), t))
        text = max(texts)[1]
    elif head.startswith(b"ASCII"):
        text = body.decode("latin-1")
    else:
        text = body.decode("utf-8", "replace")
    return text.strip("\x00 ").strip() or None


def parse_exif(raw: bytes) -> dict[str, str]:
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(raw)
    except Exception:
        return {}
    out = {}
    for tag, key in (
        (0x013B, "artist"),
        (0x8298, "copyright"),
        (0x010E, "description"),
        (0x0131, "software"),
        (0x9C9D, "xpauthor"),
        (0x9C9C, "xpcomment"),
        (0x9C9E, "xpkeywords"),
    ):
        try:
            v = exif.get(tag)
        except Exception:
            v = None
        if tag in (0x9C9D, 0x9C9C, 0x9C9E) and isinstance(v, (bytes, tuple)):
            v = bytes(v).decode("utf-16-le", "replace")
        text = _exif_text(v)
        if text:
            out[key] = _clip(text)
    make, model = (_exif_text(exif.get(t)) or "" for t in (0x010F, 0x0110))
    for key in ("artist", "copyright"):
        if key in out and _repeats_camera(out[key], make, model):
            del out[key]
    try:
        sub = exif.get_ifd(0x8769)
        uc = user_comment(sub.get(0x9286))
        if uc:
            out["usercomment"] = _clip(uc)
    except Exception:
        pass
    return out


IIM_FIELDS = {
    (2, 80): "by-line",
    (2, 116): "copyright",
    (2, 110): "credit",
    (2, 115): "source",
    (2, 25): "keywords",
    (2, 40): "special-instructions",
    (2, 5): "title",
}


def parse_iim(data: bytes, utf8: bool | None = None) -> dict[str, list[str]]:
    """IPTC-IIM records (1:90 = ESC % G declares UTF-8; otherwise try UTF-8, then Latin-1)."""
    out: dict[str, list[str]] = {}
    i = 0
    while i + 5 <= len(data):
        if data[i] != 0x1C:
            i += 1
            continue
        record, dataset = data[i + 1], data[i + 2]
        length = struct.unpack(">H", data[i + 3 : i + 5])[0]
        if length & 0x8000:  # extended length: not used by text fields
            return out
        value = data[i + 5 : i + 5 + length]
        i += 5 + length
        if (record, dataset) == (1, 90):
            utf8 = value == b"\x1b%G"
            continue
        key = IIM_FIELDS.get((record, dataset))
        if key:
            try:
                text = value.decode("utf-8") if utf8 is not False else value.decode("latin-1")
            except UnicodeDecodeError:
                text = value.decode("latin-1")
            text = text.strip()
            if text:
                out.setdefault(key, []).append(_clip(text))
    return out


def photoshop_iim(app13: bytes) -> bytes | None:
    """The IIM block (8BIM resource 0x0404) inside a Photoshop APP13 segment."""
    if not app13.startswith(b"Photoshop 3.0\x00"):
        return None
    i = 14
    while i + 12 <= len(app13):
        if app13[i : i + 4] != b"8BIM":
            return None
        rid = struct.unpack(">H", app13[i + 4 : i + 6])[0]
        nlen = app13[i + 6]
        j = i + 7 + nlen
        j += j & 1  # the name is padded to an even length (counting its length byte)
        if j + 4 > len(app13):
            return None
        size = struct.unpack(">I", app13[j : j + 4])[0]
        body = app13[j + 4 : j + 4 + size]
        if rid == 0x0404:
            return body
        i = j + 4 + size + (size & 1)
    return None


# --- AI generators ---------------------------------------------------------------------------------


def stealth_pnginfo(im) -> str | None:
    """AUTOMATIC1111 "stealth" metadata: bits in the alpha channel's LSBs, column-major, after a
    `stealth_pnginfo` (plain) or `stealth_pngcomp` (gzip) signature and a 32-bit bit length."""
    if im is None or im.mode not in ("RGBA", "LA", "PA"):
        return None
    import numpy as np

    alpha = np.asarray(im.getchannel("A"))
    sig_len = len("stealth_pnginfo") * 8
    if alpha.size < sig_len + 32:
        return None
    # Look at the signature first (the first columns only): almost every PNG with alpha has none.
    head_cols = -(-(sig_len + 32) // alpha.shape[0])
    head = (alpha[:, :head_cols].T.reshape(-1)[:sig_len] & 1).astype(np.uint8)
    sig = np.packbits(head).tobytes()
    if sig not in (b"stealth_pnginfo", b"stealth_pngcomp"):
        return None
    bits = (alpha.T.reshape(-1) & 1).astype(np.uint8)
    n = int("".join(map(str, bits[sig_len : sig_len + 32].tolist())), 2)
    if n <= 0 or sig_len + 32 + n > bits.size or n > 8 * (4 << 20):
        return None
    payload = np.packbits(bits[sig_len + 32 : sig_len + 32 + n]).tobytes()
    if sig == b"stealth_pngcomp":
        # Bounded: a few hundred KB of gzip can expand to gigabytes (a decompression bomb in the alpha channel).
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            payload = d.decompress(payload, MAX_INFLATE)
        except zlib.error:
            return None
    return _clip(payload.decode("utf-8", "replace"))


# --- C2PA ---------------------------------------------------------------------------------------------

_MIME = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
    "HEIF": "image/heif",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
}
_C2PA_CTX = None


def _c2pa_context():
    global _C2PA_CTX
    if _C2PA_CTX is None:
        import c2pa

        _C2PA_CTX = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    return _C2PA_CTX


def might_have_c2pa(data: bytes) -> bool:
    """Cheap pre-check: manifest stores are JUMBF boxes (`jumb`), PNG `caBX`, WebP `C2PA`, or a remote
    reference in XMP (`provenance`)."""
    return any(m in data for m in (b"jumb", b"caBX", b"C2PA", b"c2pa", b"provenance"))


def mime_of(data: bytes, fmt: str | None) -> str:
    """The container's MIME type from its magic bytes (Pillow may call a JPEG "MPO", or fail to open it)."""
    if data[:2] == b"\xff\xd8":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "image/avif" if brand in (b"avif", b"avis") else "image/heif"
    return _MIME.get(fmt or "", "")


def read_c2pa(data: bytes, fmt: str | None) -> dict[str, Any]:
    mime = mime_of(data, fmt)
    if not mime:
        return {"status": "unsupported"}
    try:
        import c2pa
    except ImportError:  # pragma: no cover - declared dependency
        return {"status": "error", "detail": "c2pa-python is not installed"}
    try:
        with c2pa.Reader(mime, stream=io.BytesIO(data), context=_c2pa_context()) as reader:
            store = json.loads(reader.json())
            state = reader.get_validation_state()
    except Exception as e:
        text = str(e)
        if type(e).__name__.endswith("ManifestNotFound") or "no JUMBF" in text:
            return {"status": "none"}
        m = re.search(r"remote manifests? from url (\S+)", text)
        if m:
            return {"status": "remote", "remote_url": m.group(1)}
        return {"status": "error", "detail": _clip(f"{type(e).__name__}: {text}")}
    return summarise_c2pa(store, state)


def summarise_c2pa(store: dict[str, Any], state: Any) -> dict[str, Any]:
    manifests = store.get("manifests") or {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) or {}
    out: dict[str, Any] = {
        "status": "ok",
        "validation": str(state) if state is not None else None,
        "active_manifest": active_label,
        "training_mining": {},
        "digital_source_types": [],
        "ingredient_source_types": [],
    }
    gen = active.get("claim_generator") or (active.get("claim_generator_info") or [{}])[0].get("name")
    if gen:
        out["claim_generator"] = str(gen)

    def source_types(manifest: dict) -> list[str]:
        found = []
        for a in manifest.get("assertions") or []:
            if str(a.get("label", "")).split("__")[0] in ("c2pa.actions", "c2pa.actions.v2"):
                for action in (a.get("data") or {}).get("actions") or []:
                    dst = action.get("digitalSourceType")
                    if isinstance(dst, str) and dst.strip():
                        found.append(dst.strip())
        return found

    out["digital_source_types"] = source_types(active)
    for a in active.get("assertions") or []:
        label = str(a.get("label", "")).split("__")[0]
        if label in ("cawg.training-mining", "c2pa.training-mining"):
            for key, entry in ((a.get("data") or {}).get("entries") or {}).items():
                if isinstance(entry, dict):
                    out["training_mining"][str(key)] = {
                        "use": str(entry.get("use", "")),
                        "constraint": _clip(str(entry.get("constraint_info") or entry.get("constraints_info") or "")),
                        "assertion": label,
                    }
    for label, manifest in manifests.items():
        if label != active_label:
            out["ingredient_source_types"].extend(source_types(manifest))
    return out


# --- the extractor ------------------------------------------------------------------------------------


def compute(decoded: Decoded) -> dict[str, Any]:
    data = decoded.data
    fmt = decoded.info.get("format")
    out: dict[str, Any] = {"xmp": {}, "exif": {}, "iim": {}, "text": {}, "xmp_problems": []}
    xmp_packets: list[bytes] = []
    exif_raw: bytes | None = None
    extended: dict[bytes, dict[int, bytes]] = {}

    if data[:2] == b"\xff\xd8":
        for marker, body in jpeg_segments(data):
            if marker == 0xE1 and body.startswith(b"Exif\x00\x00") and exif_raw is None:
                exif_raw = body[6:]
            elif marker == 0xE1 and body.startswith(XMP_STD):
                xmp_packets.append(body[len(XMP_STD) :])
            elif marker == 0xE1 and body.startswith(XMP_EXT) and len(body) >= len(XMP_EXT) + 40:
                # Extended XMP: GUID (32 bytes), full length (4), offset (4), then a slice of the packet.
                rest = body[len(XMP_EXT) :]
                guid, offset = rest[:32], struct.unpack(">I", rest[36:40])[0]
                extended.setdefault(guid, {})[offset] = rest[40:]
            elif marker == 0xED:
                iim = photoshop_iim(body)
                if iim:
                    out["iim"] = parse_iim(iim)
        for parts in extended.values():
            xmp_packets.append(b"".join(parts[k] for k in sorted(parts)))
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        for kind, body in png_chunks(data):
            if kind in (b"tEXt", b"zTXt", b"iTXt"):
                kt = png_text(kind, body)
                if kt is None:
                    continue
                key, text = kt
                if key == "XML:com.adobe.xmp":
                    xmp_packets.append(text.encode("utf-8"))
                elif key.lower() in GENERATOR_KEYS or key.lower().startswith(("sd-", "invokeai", "fooocus")):
                    out["text"][key] = _clip(text)
                elif key.lower() in ("author", "copyright", "description", "title", "disclaimer", "warning"):
                    out["text"][key] = _clip(text)
            elif kind == b"eXIf" and exif_raw is None:
                exif_raw = body
    elif data[:4] == b"RIFF":
        for kind, body in riff_chunks(data):
            if kind == b"EXIF" and exif_raw is None:
                exif_raw = body[6:] if body.startswith(b"Exif\x00\x00") else body
            elif kind == b"XMP ":
                xmp_packets.append(body)
    im = decoded.image
    if im is not None:  # other containers (HEIF, AVIF, TIFF…): what Pillow's plugins found
        info = getattr(im, "info", {}) or {}
        if exif_raw is None and isinstance(info.get("exif"), bytes):
            raw = info["exif"]
            exif_raw = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
        if not xmp_packets and isinstance(info.get("xmp"), (bytes, str)):
            x = info["xmp"]
            xmp_packets.append(x.encode("utf-8") if isinstance(x, str) else x)

    if exif_raw:
        out["exif"] = parse_exif(exif_raw)
    for packet in xmp_packets:
        problem = parse_xmp(packet, out["xmp"])
        if problem:
            out["xmp_problems"].append(problem)
    stealth = stealth_pnginfo(im) if fmt == "PNG" else None
    if stealth:
        out["stealth"] = stealth
    out["c2pa"] = read_c2pa(data, fmt) if might_have_c2pa(data) else {"status": "none"}
    return out


def parse_sidecar_xmp(data: bytes) -> dict[str, Any]:
    """The same XMP reading, for a `.xmp` sidecar file."""
    xmp: dict[str, list[list[str]]] = {}
    problem = parse_xmp(data, xmp)
    return {"xmp": xmp, "xmp_problems": [problem] if problem else []}
