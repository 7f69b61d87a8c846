"""`unionbot ask` and `unionbot kb check`: the rights knowledge base from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.cli import Parser
from bot.config import Config
from handlers.i18n import LANGUAGES, Catalog, load_catalog
from handlers.rights.chat import RightsService
from handlers.rights.kb import (
    KnowledgeBaseError,
    check_knowledge_dir,
    figure_warnings,
    load_knowledge_base,
    packaged_data_dir,
)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    ask = sub.add_parser("ask", parents=[common], help="answer a rights question from the knowledge base")
    ask.add_argument("question", nargs="?", help="the question; without it, one question per line from stdin")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--lang", choices=LANGUAGES, default=None, help="answer language (default: config)")
    ask.set_defaults(func=_ask)

    kb = sub.add_parser("kb", help="knowledge base maintenance")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, parser_class=Parser)
    check = kb_sub.add_parser("check", parents=[common], help="validate the knowledge files")
    check.add_argument("dir", nargs="?", type=Path, help="a directory of topic files (default: packaged + config)")
    check.set_defaults(func=_check)


def _result(svc: RightsService, catalog: Catalog, question: str, lang: str, hotline: str) -> dict[str, object]:
    # The engine reads a whole story (it weighs the question part); no truncation here.
    r = svc.searcher.search(question, lang)
    # A question in English is answered in English whatever the setting (issue 9).
    lang = "en" if r.lang == "en" else lang

    def t(key: str, **kw: object) -> str:
        return catalog.t(lang, key, **kw)

    entry = svc.kb.entries.get(r.entry) if r.entry else None
    if r.topic is not None and entry is not None:
        parts = [entry.answer_in(lang), entry.next_step_in(lang), t("qa.citation", citation=entry.citation_in(lang))]
        answer = "\n\n".join(p for p in parts if p)
    elif r.topic is not None:
        answer = svc.answer_text(r.topic, lang, t=t, hotline=hotline)
    elif r.kind in ("foreign_law", "tax"):
        answer = t(f"qa.{r.kind}")
    elif r.out_of_scope or r.kind in ("empty", "chitchat"):
        answer = t("qa.out_of_scope")
    else:
        titles = "\n".join(f"- {svc.title(s, lang)}" for s in r.suggestions)
        answer = t("qa.unsure" if r.suggestions else "qa.none_found") + (f"\n{titles}" if titles else "")
    return {
        "topic": r.topic,
        "score": round(float(r.score), 4),
        "answer": answer,
        "suggestions": list(r.suggestions),
        "entry": r.entry if r.topic else None,
        "confidence": round(float(r.confidence), 4),
        "kind": r.kind,
        "lang": r.lang,
        "also": list(r.also),
        "clarify": list(r.clarify),
        "province": r.province,
    }


async def _ask(args: argparse.Namespace, config: Config) -> int:
    try:
        svc = RightsService.load(config.rights.extra_dir or None)
    except KnowledgeBaseError as e:
        print(f"unionbot: {e}", file=sys.stderr)
        return 1
    lang = args.lang or config.bot.default_language
    catalog = load_catalog()
    questions = [args.question] if args.question is not None else (line.rstrip("\n") for line in sys.stdin)
    for q in questions:
        result = _result(svc, catalog, q, lang, config.union.hotline)
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        else:
            print(result["answer"], end="\n\n" if args.question is None else "\n", flush=True)
    return 0


async def _check(args: argparse.Namespace, config: Config) -> int:
    problems: list[str] = []
    if args.dir is not None:
        problems = check_knowledge_dir(args.dir)
        checked = str(args.dir)
    else:
        problems = check_knowledge_dir(packaged_data_dir())
        checked = "packaged knowledge base"
        if config.rights.extra_dir and not problems:
            checked += f" + {config.rights.extra_dir}"
            try:
                RightsService.load(config.rights.extra_dir)
            except KnowledgeBaseError as e:
                problems = e.problems
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        print(f"unionbot: {len(problems)} problem(s) in the {checked}", file=sys.stderr)
        return 1
    # Figures an entry states that its topic never does: worth a reader's look, not fatal.
    if args.dir is None:
        for w in figure_warnings(load_knowledge_base()):
            print(f"warning: {w}")
    print(f"{checked}: OK")
    return 0
