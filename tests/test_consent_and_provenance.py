"""The consent manifest (provenance.csv) and the provenance datasheet."""

from __future__ import annotations

import csv
import json

from conftest import photo_at, write_image
from test_bad_input import jpeg_with_xmp


def rows_of(path):
    with open(path, encoding="utf-8", newline="") as f:
        return {r["path"]: r for r in csv.DictReader(f)}


def person_set(root):
    write_image(root / "10_hanako woman" / "01.png", (1024, 1024))
    write_image(root / "10_hanako woman" / "02.png", (1024, 1024), name="coffee.jpg")
    credited = root / "10_hanako woman" / "03.jpg"
    credited.write_bytes(
        jpeg_with_xmp(
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/">'
            b"<dc:creator><rdf:Seq><rdf:li>Studio Sakura</rdf:li></rdf:Seq></dc:creator>"
            b'<xmpRights:UsageTerms><rdf:Alt><rdf:li xml:lang="x-default">Editorial use only</rdf:li></rdf:Alt></xmpRights:UsageTerms>'
            b"</rdf:Description></rdf:RDF></x:xmpmeta>",
            (1024, 1024),
        )
    )
    credited.with_suffix(".txt").write_text("hanako woman")
    (root / "10_hanako woman" / "03.jpg.json").write_text(
        json.dumps({"category": "x", "url": "https://x.com/s/status/1"})
    )


def test_consent_init_prefills_and_merges_without_overwriting(tmp_path, run):
    root = tmp_path / "person"
    person_set(root)
    code, out, err = run("consent", "init", root, "--cache-dir", tmp_path / "c")
    assert code == 0 and "3 rows (3 new" in out, err
    rows = rows_of(root / "provenance.csv")
    assert list(rows) == ["10_hanako woman/01.png", "10_hanako woman/02.png", "10_hanako woman/03.jpg"]
    r3 = rows["10_hanako woman/03.jpg"]
    assert r3["author"] == "Studio Sakura" and r3["licence"] == "Editorial use only"
    assert r3["source_url"] == "https://x.com/s/status/1" and "X (Twitter)" in r3["notes"]
    assert all(r["subject_consent"] == "unknown" and len(r["sha256"]) == 64 for r in rows.values())

    # A person fills in consent and edits an author; a new image arrives; init runs again.
    rows["10_hanako woman/01.png"].update(subject="Hanako", subject_consent="yes", consent_ref="contract 2026-014")
    rows["10_hanako woman/03.jpg"]["author"] = "Sakura Studio Ltd."
    with open(root / "provenance.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(next(iter(rows.values()))) + ["agency"])
        w.writeheader()
        for r in rows.values():
            w.writerow({**r, "agency": "Agency K" if r["path"].endswith("01.png") else ""})
    write_image(root / "10_hanako woman" / "04.png", (1024, 1024), name="rocket.jpg")
    code, out, _ = run("consent", "init", root, "--cache-dir", tmp_path / "c")
    assert code == 0 and "4 rows (1 new" in out and (root / "provenance.csv.bak").exists()
    again = rows_of(root / "provenance.csv")
    assert again["10_hanako woman/01.png"]["subject_consent"] == "yes"
    assert again["10_hanako woman/01.png"]["consent_ref"] == "contract 2026-014"
    assert again["10_hanako woman/01.png"]["agency"] == "Agency K"  # a column the person added is kept
    assert again["10_hanako woman/03.jpg"]["author"] == "Sakura Studio Ltd."
    assert "10_hanako woman/04.png" in again


def test_person_profile_requires_recorded_consent(tmp_path, run, audit_json):
    root = tmp_path / "person"
    person_set(root)
    _, report = audit_json(root, "--profile", "person")
    # No manifest at all is a dataset problem: said once, it fails the gate but leaves each image's verdict
    # to what is wrong with that image.
    assert not any(f["code"] == "CNS001" for i in report["images"] for f in i["findings"])
    [missing] = [f for f in report["findings"] if f["code"] == "CNS004"]
    assert missing["path"] == "provenance.csv" and missing["severity"] == "error"
    assert f"none of the {len(report['images'])} images" in missing["message"]
    assert report["summary"]["exit_code"] == 1
    assert "DATASET" in run("audit", root, "--profile", "person")[1]
    _, general = audit_json(root)
    assert not any(f["code"] == "CNS001" for i in general["images"] for f in i["findings"])

    run("consent", "init", root, "--cache-dir", tmp_path / "c")
    rows = rows_of(root / "provenance.csv")
    rows["10_hanako woman/01.png"]["subject_consent"] = "yes"
    rows["10_hanako woman/03.jpg"]["subject_consent"] = "yes"
    rows["10_hanako woman/03.jpg"]["sha256"] = "0" * 64  # recorded for an older version of the file
    with open(root / "provenance.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(next(iter(rows.values()))))
        w.writeheader()
        w.writerows(rows.values())
    _, report = audit_json(root, "--profile", "person")
    codes = {i["path"]: [f["code"] for f in i["findings"]] for i in report["images"]}
    assert "CNS001" not in codes["10_hanako woman/01.png"]
    assert "CNS001" in codes["10_hanako woman/02.png"]
    assert "CNS002" in codes["10_hanako woman/03.jpg"]
    # recorded consent turns the rights warning into a note
    assert "RGT001" not in codes["10_hanako woman/03.jpg"] and "RGT003" in codes["10_hanako woman/03.jpg"]


def test_unreadable_manifest_is_a_warning_and_init_refuses_it(tmp_path, run, audit_json):
    root = tmp_path / "d"
    write_image(root / "a.png", (1024, 1024))
    (root / "provenance.csv").write_bytes(b"file,who\n\xff\xfe\x00broken\n")
    _, report = audit_json(root)
    assert [(f["code"], f["path"]) for f in report["findings"]] == [("CNS003", "provenance.csv")]
    code, _, err = run("consent", "init", root)
    assert code == 2 and "provenance.csv" in err
    assert (root / "provenance.csv").read_bytes().startswith(b"file,who")


def test_provenance_report(tmp_path, run):
    root = tmp_path / "person"
    person_set(root)
    photo_at((1024, 1024)).save(root / "10_hanako woman" / "<b>bold<b>-glazed-intensity1.png")
    out = tmp_path / "out"
    code, stdout, err = run("report", "provenance", root, "--out", out, "--cache-dir", tmp_path / "c")
    assert code == 0, err
    report = json.loads((out / "provenance-report.json").read_text())
    s = report["summary"]
    assert report["schema"] == "curate.provenance/v1" and s["images"] == 4
    assert s["by_source_platform"] == {"unknown": 3, "X (Twitter)": 1}
    assert s["by_subject_consent"] == {"no record": 4} and s["consent_manifest"] == "none"
    assert s["by_licence"]["Editorial use only"] == 1
    md = (out / "provenance-report.md").read_text()
    assert "# Training data provenance" in md and "| X (Twitter) | 1 | 25% |" in md
    assert "&lt;b&gt;bold&lt;b&gt;-glazed-intensity1.png" in md and "<b>" not in md
    assert list(root.rglob("provenance-report*")) == []  # nothing written into the dataset


def test_consent_init_keeps_every_existing_row_exactly_and_matches_odd_names(tmp_path, run, audit_json):
    root = tmp_path / "person"
    person_set(root)
    write_image(root / "10_hanako woman" / "\rcr name.png", (1024, 1024), name="rocket.jpg")
    assert run("consent", "init", root, "--cache-dir", tmp_path / "c")[0] == 0
    rows = rows_of(root / "provenance.csv")
    assert "10_hanako woman/\rcr name.png" in rows  # a CR in the name round-trips (neutralised, then restored)
    # A person empties the prefilled author, and types consent with spaces around it.
    rows["10_hanako woman/03.jpg"]["author"] = ""
    for r in rows.values():
        r["subject_consent"] = " yes "
    with open(root / "provenance.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(next(iter(rows.values()))))
        w.writeheader()
        w.writerows(rows.values())
    code, out, _ = run("consent", "init", root, "--cache-dir", tmp_path / "c")
    assert code == 0 and "0 new" in out
    again = rows_of(root / "provenance.csv")
    assert again["10_hanako woman/03.jpg"]["author"] == ""  # not refilled from the metadata
    assert again["10_hanako woman/01.png"]["subject_consent"] == " yes "  # kept as typed
    _, report = audit_json(root, "--profile", "person")
    assert not any(f["code"] == "CNS001" for i in report["images"] for f in i["findings"])
