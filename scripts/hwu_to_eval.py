"""Build evals/hwu64/cases.jsonl from HWU64 (xliuhw/NLU-Evaluation-Data, CC BY 4.0).

Source: https://github.com/xliuhw/NLU-Evaluation-Data at commit f6071b4 (the snapshot this file was
built from), the test split of cross-validation fold 1:
CrossValidation/autoGeneFromRealAnno/autoGene_2018_03_22-13_01_25_169/CrossValidation/KFold_1/testset/annotated/<intent>/*.json
(1,076 utterances, 64 intents in 18 scenarios).

Ten routes (the suite "hwu64" in evals/hwu64/suites.json) cover 15 scenarios; their descriptions were written from the
scenario and intent names only. Utterances of the three other scenarios (general: yes/no/stop/jokes...,
recommendation, social) expect no route. evals/hwu64/README.md says what this data was used for.

    python scripts/hwu_to_eval.py PATH/TO/KFold_1/testset/annotated > evals/hwu64/cases.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SUITES = Path(__file__).resolve().parent.parent / "evals" / "hwu64" / "suites.json"

# scenario (the intent name's first part) -> route; None: no route fits.
SCENARIOS: dict[str, str | None] = {
    "alarm": "alarms_and_calendar",
    "calendar": "alarms_and_calendar",
    "audio": "audio_and_music",
    "music": "audio_and_music",
    "play": "audio_and_music",
    "iot": "smart_home",
    "email": "email",
    "lists": "lists",
    "qa": "general_knowledge",
    "transport": "transport",
    "takeaway": "food",
    "cooking": "food",
    "news": "news_and_weather",
    "weather": "news_and_weather",
    "datetime": "date_and_time",
    "general": None,
    "recommendation": None,
    "social": None,
}


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: hwu_to_eval.py KFold_1/testset/annotated > cases.jsonl")
    names = {r["name"] for r in json.loads(SUITES.read_text("utf-8"))["hwu64"]}
    if names != {r for r in SCENARIOS.values() if r is not None}:
        raise SystemExit(f"{SUITES} and SCENARIOS name different routes")
    number = 0
    for folder in sorted(Path(sys.argv[1]).iterdir()):
        scenario = folder.name.split("_")[0]
        route = SCENARIOS[scenario]
        for file in sorted(folder.glob("*.json")):
            for item in json.loads(file.read_text("utf-8"))["test_data_annotation"]:
                number += 1
                case = {
                    "id": f"hwu-{number}",
                    "messages": [{"role": "user", "content": item["text"]}],
                    "expected": route,
                    "scenario": "in_scope" if route else "out_of_scope",
                    "suite": "hwu64",
                }
                sys.stdout.write(json.dumps(case, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
