"""The rights engine is built once per process for the same files, and anew when a
federation's file changes: every runtime (the bot, a CLI call) used to spend seconds
rebuilding identical indexes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from handlers.rights import chat
from handlers.rights.chat import RightsService


def test_same_files_same_engine_changed_file_new_engine(tmp_path: Path) -> None:
    assert RightsService.load() is RightsService.load()
    # The packaged topics and model files are part of what is compared.
    key = next(k for k, v in chat._LOADED.items() if v is RightsService.load())
    assert any(p.endswith("minimum_wage.json") for p, _, _ in key[1])
    assert any(p.endswith("rights_model.json.gz") for p, _, _ in key[1])
    extra = tmp_path / "extra"
    extra.mkdir()
    first = RightsService.load(extra)
    assert RightsService.load(str(extra)) is first
    # A federation changes a topic's answer: the next load sees it.
    note = "Liên đoàn Lao động tỉnh: gọi 0123 456 789."
    copy = extra / "union_legal_aid.json"
    copy.write_text(json.dumps({"id": "union_legal_aid", "answer": {"vi": note}}, ensure_ascii=False), encoding="utf-8")
    second = RightsService.load(extra)
    assert second is not first
    assert second.topic("union_legal_aid").answer["vi"] == note  # type: ignore[union-attr]
    assert first.topic("union_legal_aid").answer["vi"] != note  # type: ignore[union-attr]
    # Touching a file counts as a change too (an edit that keeps the size).
    st = copy.stat()
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    assert RightsService.load(extra) is not second


async def test_cli_commands_skip_the_engine_and_the_running_bot_builds_it(tmp_path: Path) -> None:
    from bot.app import Runtime
    from tests.harness import config_for, running_bot

    extra = tmp_path / "kb"
    extra.mkdir()
    (extra / "union_legal_aid.json").write_text(
        json.dumps({"id": "union_legal_aid", "answer": {"vi": "Gọi LĐLĐ tỉnh."}}, ensure_ascii=False), encoding="utf-8"
    )
    cfg = config_for(tmp_path, toml=f'[rights]\nextra_dir = "{extra}"\n')
    async with Runtime(cfg) as runtime:
        # `unionbot signups stats` and the like never answer a question: nothing built.
        assert runtime.services.rights is None
    async with running_bot(cfg) as runtime:
        # Built (with the federation's files) by the running bot as it starts polling.
        assert runtime.services.rights_loading is not None
        await runtime.services.rights_loading
        assert runtime.services.rights is RightsService.load(extra)
        assert runtime.services.rights.topic("union_legal_aid").answer["vi"] == "Gọi LĐLĐ tỉnh."  # type: ignore[union-attr]
