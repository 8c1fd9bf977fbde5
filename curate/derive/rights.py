"""What an image's metadata and sidecars say about rights, opt-outs, provenance and AI generation.

`read_signals(record, settings)` interprets the cached `metadata` features and the parsed sidecars of one
image into `RightsSignals`; the rights checks (opt-out, platform-terms, ai-generated, rights, consent),
the consent manifest and the provenance report all read it. Pure: no file is opened here.
Vocabularies: docs/rights-signals.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from curate.model import ImageRecord
from curate.rules import Settings

DMI_PREFIX = "http://ns.useplus.org/ldf/vocab/"
IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_AI = {
    "trainedalgorithmicmedia",
    "compositewithtrainedalgorithmicmedia",
    "compositesynthetic",
    "trainedalgorithmicdata",
}
TRAINING_KEYS = ("data_mining", "ai_training", "ai_generative_training")
DC = "http://purl.org/dc/elements/1.1/"


@dataclass
class Signal:
    """One thing a file says, with where it says it."""

    kind: str  # e.g. 'plus:DataMining', 'cawg.training-mining', 'tdm-reservation', 'noai'
    value: str
    where: str  # 'XMP', 'C2PA (active manifest)', 'sidecar photo.html', …
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        d = {"signal": self.kind, "value": self.value, "where": self.where}
        if self.detail:
            d["detail"] = self.detail
        return d


@dataclass
class RightsSignals:
    opt_outs: list[Signal] = field(default_factory=list)  # declared: error
    weak_opt_outs: list[Signal] = field(default_factory=list)  # keywords/tags: warning
    permissions: list[Signal] = field(default_factory=list)
    platforms: list[dict[str, Any]] = field(default_factory=list)  # {key, name, how, declared, …}
    generators: list[dict[str, str]] = field(default_factory=list)
    ai_sources: list[Signal] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    copyright: list[str] = field(default_factory=list)
    credit: list[str] = field(default_factory=list)
    usage_terms: list[str] = field(default_factory=list)
    web_statement: list[str] = field(default_factory=list)
    licensors: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    source_urls: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def rights_holder(self) -> bool:
        return bool(
            self.authors or self.copyright or self.credit or self.usage_terms or self.licensors or self.agencies
        )


def is_trained_ai(source_type: str) -> bool:
    """Whether a digitalSourceType (a full IPTC URI or its last segment, any case) names trained AI."""
    return source_type.strip().rstrip("/").rsplit("/", 1)[-1].lower() in TRAINED_AI


def _uniq(values) -> list[str]:
    seen, out = set(), []
    for v in values:
        v = (v or "").strip()
        if v and v.lower() not in seen:
            seen.add(v.lower())
            out.append(v)
    return out


def _xmp_values(xmp: dict, name: str, ns: str | None = None) -> list[str]:
    return [v for n, v in xmp.get(name, []) if ns is None or n == ns]


def _dmi_token(value: str) -> str:
    v = value.strip()
    if "/" in v:
        v = v.rstrip("/").rsplit("/", 1)[-1]
    return v.upper()


def _norm_tag(t: str) -> str:
    return re.sub(r"[\s\-_#]+", "", t.lower())


def _platform_by_domain(url: str, platforms: dict) -> str | None:
    host = (urlparse(url).hostname or "").lower()
    for key, p in platforms.items():
        if any(host == d or host.endswith("." + d) for d in p.get("domains", [])):
            return key
    return None


def _generator_from_text(text: dict[str, str]) -> dict[str, str] | None:
    low = {k.lower(): v for k, v in text.items()}
    if "parameters" in low:
        params = low["parameters"]
        try:
            j = json.loads(params)
        except ValueError:
            j = None
        if isinstance(j, dict) or "fooocus_scheme" in low:
            j = j if isinstance(j, dict) else {}
            return {
                "generator": "Fooocus",
                "model": str(j.get("base_model", "")),
                "prompt": str(j.get("prompt", "")),
                "where": "PNG text 'parameters'",
            }
        return _a1111(params, "PNG text 'parameters'")
    if "prompt" in low and ("workflow" in low or low["prompt"].lstrip().startswith("{")):
        model, prompt = "", ""
        try:
            graph = json.loads(low["prompt"])
            for node in graph.values() if isinstance(graph, dict) else []:
                inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
                model = model or str(inputs.get("ckpt_name") or inputs.get("unet_name") or "")
                if node.get("class_type") == "CLIPTextEncode" and isinstance(inputs.get("text"), str) and not prompt:
                    prompt = inputs["text"]
        except (ValueError, AttributeError):
            pass
        return {"generator": "ComfyUI", "model": model, "prompt": prompt, "where": "PNG text 'prompt'/'workflow'"}
    for key in ("invokeai_metadata", "sd-metadata", "dream", "invokeai_graph"):
        if key in low:
            model, prompt = "", ""
            try:
                j = json.loads(low[key])
                if isinstance(j, dict):
                    m = j.get("model")
                    model = str(m.get("name") or m.get("model_name") or "") if isinstance(m, dict) else str(m or "")
                    img = j["image"] if isinstance(j.get("image"), dict) else {}
                    p = j.get("positive_prompt") or img.get("prompt") or ""
                    prompt = p if isinstance(p, str) else json.dumps(p)[:200]
            except ValueError:
                prompt = low[key].strip().strip('"').split('" -')[0]
            return {"generator": "InvokeAI", "model": model, "prompt": prompt, "where": f"PNG text '{key}'"}
    if low.get("software", "").strip().lower().startswith("novelai"):
        return {
            "generator": "NovelAI",
            "model": low.get("source", ""),
            "prompt": low.get("description", ""),
            "where": "PNG text 'Software' = NovelAI",
        }
    return None


def _a1111(params: str, where: str) -> dict[str, str] | None:
    if "Steps:" not in params or ("Sampler:" not in params and "CFG scale:" not in params):
        return None
    m = re.search(r"Model: ([^,\n]+)", params)
    prompt = params.split("\nNegative prompt:")[0].split("\nSteps:")[0]
    return {
        "generator": "AUTOMATIC1111 / Forge",
        "model": m.group(1).strip() if m else "",
        "prompt": prompt,
        "where": where,
    }


def _add_dmi(sig: RightsSignals, values: list[str], where: str, xmp: dict) -> None:
    for v in values:
        token = _dmi_token(v)
        if token.startswith("DMI-PROHIBITED"):
            detail = ""
            if token == "DMI-PROHIBITED-SEECONSTRAINT":
                detail = "; ".join(_xmp_values(xmp, "otherconstraints"))
            elif token == "DMI-PROHIBITED-SEEEMBEDDEDRIGHTSEXPR":
                detail = "; ".join(_xmp_values(xmp, "encrightsexpr") + _xmp_values(xmp, "embdencrightsexpr"))
            elif token == "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR":
                detail = "; ".join(_xmp_values(xmp, "linkedrightsexpr") + _xmp_values(xmp, "linkedencrightsexpr"))
            sig.opt_outs.append(Signal("plus:DataMining", token, where, detail))
        elif token == "DMI-ALLOWED":
            sig.permissions.append(Signal("plus:DataMining", token, where))


def _add_xmp(sig: RightsSignals, xmp: dict, where: str, noai: set[str]) -> None:
    _add_dmi(sig, _xmp_values(xmp, "datamining"), where, xmp)
    for ns, value in xmp.get("reservation", []):
        if "tdm" in ns.lower() and value.strip() == "1":
            policy = "; ".join(v for n, v in xmp.get("policy", []) if "tdm" in n.lower())
            sig.opt_outs.append(Signal("tdm-reservation", "1", where, policy))
    for _ns, value in xmp.get("digitalsourcetype", []):
        if is_trained_ai(value):
            sig.ai_sources.append(Signal("Iptc4xmpExt:DigitalSourceType", value.strip(), where))
    for key in ("aisystemused", "aipromptinformation"):
        for _, value in xmp.get(key, []):
            sig.ai_sources.append(Signal(f"Iptc4xmpExt:{key}", value, where))
    for tag in _xmp_values(xmp, "subject"):
        if _norm_tag(tag) in noai or any(n in tag.lower() for n in noai if not n.isascii()):
            sig.weak_opt_outs.append(Signal("noai keyword", tag, where))
    sig.authors += _xmp_values(xmp, "creator", DC) + _xmp_values(xmp, "imagecreatorname")
    sig.copyright += _xmp_values(xmp, "rights", DC) + _xmp_values(xmp, "copyrightownername")
    sig.credit += _xmp_values(xmp, "credit")
    sig.usage_terms += _xmp_values(xmp, "usageterms")
    sig.web_statement += _xmp_values(xmp, "webstatement")
    sig.licensors += _xmp_values(xmp, "licensorname") + _xmp_values(xmp, "licensorurl")
    if any("gettyimages" in ns for ns, _ in xmp.get("assetid", [])):  # GettyImagesGIFT:AssetID
        sig.credit.append("Getty Images")
    for _, url in xmp.get("provenance", []):
        if url.startswith(("http://", "https://")):
            sig.provenance.setdefault("remote_urls", []).append(url)


def read_signals(rec: ImageRecord, settings: Settings) -> RightsSignals:
    """Every rights signal of one image: its metadata features and the sidecars beside it."""
    sig = RightsSignals()
    meta = rec.features.get("metadata") or {}
    noai = {_norm_tag(k) for k in settings.cfg.rights.noai_keywords}
    platforms = settings.data.get("platforms", {})
    if "error" in meta:
        meta = {}
    xmp = meta.get("xmp") or {}
    _add_xmp(sig, xmp, "XMP", noai)
    sig.problems += [f"XMP: {p}" for p in meta.get("xmp_problems", [])]

    exif = meta.get("exif") or {}
    iim = meta.get("iim") or {}
    sig.authors += [exif.get("artist", ""), exif.get("xpauthor", "")] + iim.get("by-line", [])
    sig.copyright += [exif.get("copyright", "")] + iim.get("copyright", [])
    sig.credit += iim.get("credit", []) + iim.get("source", [])
    for kw in iim.get("keywords", []) + (exif.get("xpkeywords", "").split(";") if exif.get("xpkeywords") else []):
        if _norm_tag(kw) in noai:
            sig.weak_opt_outs.append(Signal("noai keyword", kw.strip(), "IPTC keywords"))

    # AI generators: PNG text chunks, EXIF UserComment (A1111 JPEG/WebP), alpha-channel stealth metadata.
    gen = _generator_from_text(meta.get("text") or {})
    if gen is None and exif.get("usercomment"):
        gen = _a1111(exif["usercomment"], "EXIF UserComment")
    if gen is None and meta.get("stealth"):
        gen = _a1111(meta["stealth"], "alpha-channel stealth metadata") or {
            "generator": "AUTOMATIC1111 (stealth)",
            "model": "",
            "prompt": meta["stealth"][:200],
            "where": "alpha-channel stealth metadata",
        }
    if gen:
        gen["prompt"] = gen.get("prompt", "").strip()[:160]
        sig.generators.append(gen)

    c2pa = meta.get("c2pa") or {}
    if c2pa.get("status") == "ok":
        sig.provenance.update(
            {
                "c2pa": "manifest",
                "validation": c2pa.get("validation"),
                "claim_generator": c2pa.get("claim_generator", ""),
            }
        )
        for key, entry in (c2pa.get("training_mining") or {}).items():
            use = entry.get("use", "")
            where = f"C2PA {entry.get('assertion', 'training-mining')} (active manifest)"
            if key.endswith(TRAINING_KEYS):
                if use in ("notAllowed", "constrained"):
                    sig.opt_outs.append(
                        Signal(
                            entry.get("assertion", "training-mining"),
                            f"{key}: {use}",
                            where,
                            entry.get("constraint", ""),
                        )
                    )
                elif use == "allowed":
                    sig.permissions.append(Signal(entry.get("assertion", "training-mining"), f"{key}: allowed", where))
        for dst in c2pa.get("digital_source_types", []):
            if is_trained_ai(dst):
                sig.ai_sources.append(Signal("C2PA digitalSourceType", dst.strip(), "C2PA (active manifest)"))
        for dst in c2pa.get("ingredient_source_types", []):
            if is_trained_ai(dst):
                sig.ai_sources.append(
                    Signal(
                        "C2PA digitalSourceType",
                        dst.strip(),
                        "C2PA ingredient",
                        "an ingredient was generated: the image is partly generated",
                    )
                )
    elif c2pa.get("status") == "remote":
        sig.provenance.setdefault("remote_urls", []).append(c2pa.get("remote_url", ""))
    elif c2pa.get("status") == "error":
        sig.problems.append(f"C2PA: {c2pa.get('detail', 'unreadable manifest')}")

    # Sidecars.
    for path, side in (rec.features.get("sidecars") or {}).items():
        where = f"sidecar {path.rsplit('/', 1)[-1]}"
        kind = side.get("kind")
        if side.get("problem"):
            sig.problems.append(f"{where}: {side['problem']}")
        if kind == "xmp":
            _add_xmp(sig, side.get("xmp") or {}, where, noai)
            sig.problems += [f"{where}: {p}" for p in side.get("xmp_problems", [])]
        if kind in ("page", "headers"):
            robots = side.get("robots", "")
            for token in ("noai", "noimageai"):
                if re.search(rf"\b{token}\b", robots):
                    label = "meta robots" if kind == "page" else "X-Robots-Tag"
                    sig.opt_outs.append(Signal("noai", f"{label}: {robots.strip()}", where))
                    break
            for value in side.get("tdm_reservation", []):
                if str(value).strip() == "1":
                    sig.opt_outs.append(Signal("tdm-reservation", "1", where, "; ".join(side.get("tdm_policy", []))))
        url = side.get("url") or side.get("page_url") or side.get("post_url")
        if isinstance(url, str) and url:
            sig.source_urls.append(url)
        if kind == "gallery-dl":
            cat = str(side.get("category", "")).lower()
            for key, p in platforms.items():
                if cat in [c.lower() for c in p.get("gallery_dl", [])]:
                    sig.platforms.append(
                        {"key": key, "how": f"gallery-dl category '{cat}' in {where}", "declared": True}
                    )
            if side.get("user"):
                sig.authors.append(str(side["user"]))
            for tag in side.get("tags", []):
                if _norm_tag(str(tag)) in noai:
                    sig.weak_opt_outs.append(Signal("noai tag", str(tag), where))
            if str(side.get("illust_ai_type", "")) == "2" or side.get("ai_generated") is True:
                sig.ai_sources.append(Signal("platform AI flag", f"illust_ai_type={side.get('illust_ai_type')}", where))
        if isinstance(url, str) and url:
            key = _platform_by_domain(url, platforms)
            if key:
                sig.platforms.append({"key": key, "how": f"URL {url} in {where}", "declared": True})

    if not sig.platforms:
        stem = rec.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        for key, p in platforms.items():
            if any(re.search(pat, stem) for pat in p.get("filename_patterns", [])):
                sig.platforms.append(
                    {
                        "key": key,
                        "how": f"file name '{stem}' matches the {p.get('name', key)} pattern",
                        "declared": False,
                    }
                )
                break
    for p in sig.platforms:
        p.update(
            {
                k: platforms.get(p["key"], {}).get(k, "")
                for k in ("name", "ai_training", "terms_date", "summary", "reference")
            }
        )

    # Stock agencies: in credit, copyright, source, licensor, web statement, EXIF Software.
    haystack = " | ".join(
        sig.credit
        + sig.copyright
        + sig.licensors
        + sig.web_statement
        + [exif.get("software", ""), exif.get("copyright", "")]
    ).lower()
    for agency in settings.cfg.rights.stock_agencies:
        if agency.lower() in haystack:
            sig.agencies.append(agency)
    if sig.provenance.get("remote_urls"):
        sig.provenance["remote_urls"] = _uniq(sig.provenance["remote_urls"])
    for attr in (
        "authors",
        "copyright",
        "credit",
        "usage_terms",
        "web_statement",
        "licensors",
        "agencies",
        "source_urls",
    ):
        setattr(sig, attr, _uniq(getattr(sig, attr)))
    sig.agencies = _dedupe_agencies(sig.agencies)
    return sig


def _dedupe_agencies(agencies: list[str]) -> list[str]:
    # 'Getty Images' and 'gettyimages' (from the EULA URL) are one agency.
    out: list[str] = []
    for a in agencies:
        if not any(_norm_tag(a) in _norm_tag(b) or _norm_tag(b) in _norm_tag(a) for b in out):
            out.append(a)
    return out
