"""Writes the sample manifests of this folder. Run it from the project root:

    python input_samples/make_samples.py

Every format holds the same 25 apps, with the same five deliberately invalid rows
(see README.md in this folder).
"""

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).parent
FLUX = "https://huggingface.co/black-forest-labs/FLUX.1-dev"
SDXL = "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0"
SD15 = "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5"


def lora(lid, vid, name, weight):
    url = f"https://civitai.com/api/download/models/{vid}"
    return {"id": lid, "versionId": vid, "downloadUrl": url, "name": name, "weight": weight}


DISNEY = lora("212532", "244808", "All Disney Princess XL LoRA Model", 0.8)
PIXEL = lora("007310", "0120456", "Pixel Art XL", 0.6)
INK = lora("58390", "62833", "Ink Wash Painting", 1.0)
CLAY = lora("441217", "491306", "Claymation Style", 0.75)
NEON = lora("118209", "131952", "Neon Noir", 0.5)

# name, description, gpu_tier, active_workers, location, model_url, loras
APPS = [
    ("Storybook princesses", "Fairy-tale portraits", "STANDARD", "1", "us-east", FLUX, [DISNEY]),
    ("Retro sprites", "8-bit game assets", "basic", "0", "", SDXL, [PIXEL]),
    ("Product shots", "Clean studio product photos", "PERFORMANCE", "3", "eu-west", FLUX, []),
    ("Ink landscapes", "", "Standard", "", "", SDXL, [INK]),
    ("Claymation avatars", "Stop-motion look avatars", "STANDARD", "2", "us-west", SDXL, [CLAY]),
    ("Noir posters", "Film posters in neon noir", " performance ", "1", "", FLUX, [NEON]),
    ("Ultra renders", "Tier that does not exist", "ULTRA", "1", "", FLUX, []),
    (
        "Mixed styles",
        "Three LoRAs at once",
        "PERFORMANCE",
        "4",
        "eu-west",
        SDXL,
        [PIXEL, INK, CLAY],
    ),
    ("Plain SD", "", "BASIC", "", "", SD15, []),
    ("Princess pixels", "Two LoRAs", "STANDARD", "1.0", "", SDXL, [DISNEY, PIXEL]),
    ("Catalogue", "Catalogue images", "BASIC", "2", "us-east", FLUX, []),
    ("Half worker", "active_workers must be whole", "BASIC", "2.5", "", FLUX, []),
    ("Ink and clay", "", "STANDARD", "", "us-west", SDXL, [INK, CLAY]),
    ("Neon cities", "Cityscapes at night", "PERFORMANCE", "2", "", FLUX, [NEON]),
    ("Marketing banners", "", "STANDARD", "1", "eu-west", FLUX, []),
    (
        "Hub shorthand",
        "model_url is not an http(s) URL",
        "BASIC",
        "",
        "",
        "hf://stabilityai/sdxl",
        [],
    ),
    ("Comic panels", "Comic book panels", "STANDARD", "1", "", SDXL, [INK, NEON, PIXEL]),
    ("Pet portraits", "", "BASIC", "0", "", SD15, [CLAY]),
    ("Architecture", "Architectural visualisation", "PERFORMANCE", "3", "us-east", FLUX, []),
    ("Product shots", "Same name as row 3", "BASIC", "1", "", FLUX, []),
    ("Fashion lookbook", "", "STANDARD", "2", "eu-west", FLUX, [DISNEY]),
    ("Broken LoRA cell", "The loras cell is cut short", "STANDARD", "", "", FLUX, "BROKEN"),
    ("Food photography", "Menus and food shots", "BASIC", "1", "", SDXL, []),
    ("Game tiles", "", "STANDARD", "", "", SDXL, [PIXEL, CLAY, NEON]),
    ("Watercolour maps", "Fantasy maps", "BASIC", "1", "us-west", SD15, [INK]),
]
BROKEN_CELL = '[{"id": "212532", "versionId": "244808", "name": "cut short"'
COLUMNS = ["name", "description", "gpu_tier", "active_workers", "location", "model_url", "loras"]


def csv_cell(loras):
    return BROKEN_CELL if loras == "BROKEN" else (json.dumps(loras) if loras else "")


def write_csv():
    rows = [(*app[:6], csv_cell(app[6])) for app in APPS]
    pd.DataFrame(rows, columns=COLUMNS).to_csv(HERE / "apps.csv", index=False)


def write_companion():
    pd.DataFrame([app[:6] for app in APPS], columns=COLUMNS[:6]).to_csv(
        HERE / "apps_no_loras.csv", index=False
    )
    long = [{"app": app[0], **lo} for app in APPS if app[6] != "BROKEN" for lo in app[6]]
    # A table cannot hold a cut-short JSON cell: the broken row's LoRA has no weight there.
    long.append({"app": "Broken LoRA cell", **DISNEY, "weight": "heavy"})
    pd.DataFrame(long).to_csv(HERE / "loras.csv", index=False)


def write_parquet():
    struct = pa.struct(
        [(f, pa.string()) for f in ("id", "versionId", "downloadUrl", "name")]
        + [("weight", pa.float64())]
    )
    table = pa.table(
        {
            **{c: [app[i] for app in APPS] for i, c in enumerate(COLUMNS[:6])},
            # A native list cannot be cut short: the broken row's LoRA has no weight here.
            "loras": pa.array(
                [[{**DISNEY, "weight": None}] if a[6] == "BROKEN" else a[6] for a in APPS],
                type=pa.list_(struct),
            ),
        }
    )
    pq.write_table(table, HERE / "apps.parquet")


def write_jsonl():
    with open(HERE / "apps.jsonl", "w", encoding="utf-8") as out:
        for i, (name, desc, tier, workers, loc, url, loras) in enumerate(APPS):
            if loras == "BROKEN":
                out.write('{"name": "Broken LoRA cell", "gpu_tier": "STANDARD", "model_url": \n')
                continue
            config = {"gpu_tier": tier}
            if workers:
                config["active_workers"] = float(workers) if "." in workers else int(workers)
            if loc:
                config["location"] = loc
            body = {
                "name": name,
                "configuration": config,
                "workflow": {"model_url": url, "tools": {"loras": loras}},
            }
            if desc:
                body["description"] = desc
            if i % 2:  # every other line in the flat form, to show both
                body = {
                    "name": name,
                    "description": desc,
                    "gpu_tier": tier,
                    "active_workers": workers,
                    "location": loc,
                    "model_url": url,
                    "loras": loras,
                }
            out.write(json.dumps(body) + "\n")


if __name__ == "__main__":
    write_csv()
    write_companion()
    write_parquet()
    write_jsonl()
