"""The OA webhook against what the real Zalo sends and what an attacker replays.

* Zalo checks a webhook URL with an unsigned `{}` and saves it only on 200 (item 12).
* The OA secret key appears only after that save: the channel starts without it in a
  logged set-up mode that refuses every event (item 12).
* The signature formula is a configuration choice, and refusals say (once a minute)
  which known formula would have matched (item 13).
* Signed events dated outside a window are refused, so a body replayed after its dedupe
  key was pruned is not processed again (item 4).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest

from bot.channels.zalo.adapter_oa import SIGNATURE_DIAGNOSIS_INTERVAL
from storage.sqlite import PROCESSED_UPDATES_TTL
from tests.fakes.zalo_servers import (
    FakeZaloOA,
    oa_follow_event,
    oa_probe_request,
    oa_text_event,
    signed_oa_webhook,
)
from tests.zalo_harness import OA_SECRET, oa_env, running

WORKER = "6142494823000000077"
WEBHOOK = "/zalo/oa/webhook"


@pytest.fixture
async def zalo():
    async with FakeZaloOA() as server:
        yield server


def texts_to(zalo: FakeZaloOA, user_id: str) -> list[str]:
    return [m.text or "" for m in zalo.delivered if m.user_id == user_id]


# -- item 12: the console's URL check and set-up mode --------------------------------


async def test_the_unsigned_empty_probe_gets_200_and_nothing_is_processed(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        body, headers = oa_probe_request()
        r = await h.http.post(h.base_url + WEBHOOK, content=body, headers=headers)
        assert r.status_code == 200
        await h.settle()
        assert zalo.log == [] and await h.runtime.store.count_users() == 0
        # An unsigned body that does name an event is still refused.
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
        body, headers = signed_oa_webhook(event, OA_SECRET)
        headers.pop("X-ZEvent-Signature")
        r = await h.http.post(h.base_url + WEBHOOK, content=body, headers=headers)
        assert r.status_code == 401


async def test_without_the_secret_key_the_channel_starts_in_setup_mode_and_refuses_every_event(
    tmp_path: Path,
    zalo: FakeZaloOA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = oa_env(tmp_path, zalo, tokens=False)
    del env["ZALO_OA_SECRET_KEY"]
    with caplog.at_level(logging.INFO):
        async with running(tmp_path, env) as h:
            assert "SET-UP MODE" in caplog.text
            body, headers = oa_probe_request()
            assert (await h.http.post(h.base_url + WEBHOOK, content=body, headers=headers)).status_code == 200
            for key in (OA_SECRET, "", zalo.app_secret):
                event = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
                r = await h.post_oa(event, secret=key)
                assert r.status_code == 401
            r = await h.post_oa(oa_follow_event(WORKER, app_id=zalo.app_id))
            assert r.status_code == 401
            await h.settle()
            assert zalo.log == [] and await h.runtime.store.count_users() == 0
    refusals = [r for r in caplog.records if "SET-UP MODE: refused" in r.getMessage()]
    assert len(refusals) == 4


# -- item 13: signature variants and diagnosis ----------------------------------------


async def test_the_oa_id_formula_is_accepted_when_configured(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo), '[zalo]\noa_signature = "oa_id"\n') as h:
        by_oa_id = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
        assert (await h.post_oa(by_oa_id, formula="oa_id")).status_code == 200
        by_app_id = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
        assert (await h.post_oa(by_app_id, formula="app_id")).status_code == 401
        follow = oa_follow_event(WORKER, app_id=zalo.app_id)  # oa_id at the top level
        assert (await h.post_oa(follow, formula="oa_id")).status_code == 200
        await h.settle()
        assert texts_to(zalo, WORKER)


async def test_the_default_formula_refuses_the_oa_id_variant(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
        assert (await h.post_oa(event, formula="oa_id")).status_code == 401
        await h.settle()
        assert await h.runtime.store.count_users() == 0


async def test_a_refusal_says_once_a_minute_which_formula_would_have_matched(
    tmp_path: Path,
    zalo: FakeZaloOA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        offset = [0.0]
        h.oa._clock = lambda: time.time() + offset[0]

        def diagnoses() -> list[str]:
            return [r.getMessage() for r in caplog.records if "refused event" in r.getMessage()]

        with caplog.at_level(logging.WARNING):
            # Signed with the OA id and the app secret: a plausible wrong guess.
            event = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
            assert (await h.post_oa(event, secret=zalo.app_secret, formula="oa_id")).status_code == 401
            assert len(diagnoses()) == 1
            assert "'oa_id'" in diagnoses()[0] and "the app secret" in diagnoses()[0]
            assert zalo.app_secret not in caplog.text and OA_SECRET not in caplog.text

            for _ in range(3):
                event = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
                assert (await h.post_oa(event, secret="nobody-knows")).status_code == 401
            assert len(diagnoses()) == 1  # at most once a minute

            offset[0] = SIGNATURE_DIAGNOSIS_INTERVAL + 1
            event = oa_text_event(WORKER, "/help", app_id=zalo.app_id)
            assert (await h.post_oa(event, secret="nobody-knows")).status_code == 401
            assert len(diagnoses()) == 2 and "matches no known signature formula" in diagnoses()[1]
        await h.settle()
        assert await h.runtime.store.count_users() == 0


# -- item 4: the timestamp window ------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "processed"),
    [
        pytest.param(timedelta(days=365 * 7), False, id="2019"),
        pytest.param(timedelta(minutes=16), False, id="16-min-old"),
        pytest.param(-timedelta(minutes=16), False, id="16-min-ahead"),
        pytest.param(timedelta(minutes=14), True, id="14-min-old"),
        pytest.param(-timedelta(minutes=14), True, id="14-min-ahead"),
    ],
)
async def test_signed_events_outside_the_window_are_refused(
    tmp_path: Path,
    zalo: FakeZaloOA,
    age: timedelta,
    processed: bool,
) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        stamp = int((time.time() - age.total_seconds()) * 1000)
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id, timestamp_ms=stamp)
        assert (await h.post_oa(event)).status_code == 200
        await h.settle()
        assert bool(texts_to(zalo, WORKER)) is processed
        assert (await h.runtime.store.count_users() == 1) is processed


async def test_the_window_is_configurable(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo), "[zalo]\noa_event_window_minutes = 1\n") as h:
        stamp = int((time.time() - 120) * 1000)
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id, timestamp_ms=stamp)
        assert (await h.post_oa(event)).status_code == 200
        await h.settle()
        assert texts_to(zalo, WORKER) == []


async def test_a_body_replayed_after_its_dedupe_key_was_pruned_is_refused(tmp_path: Path, zalo: FakeZaloOA) -> None:
    async with running(tmp_path, oa_env(tmp_path, zalo)) as h:
        event = oa_text_event(WORKER, "/help", app_id=zalo.app_id, msg_id="replayed-1")
        body, headers = signed_oa_webhook(event, OA_SECRET)
        assert (await h.http.post(h.base_url + WEBHOOK, content=body, headers=headers)).status_code == 200
        await h.settle()
        answered = len(texts_to(zalo, WORKER))
        assert answered

        # Three days later the dedupe key is gone (pruned after two days)...
        store = h.runtime.store
        await store.db.execute("DELETE FROM processed_updates")
        h.oa._clock = lambda: time.time() + 3 * 86400
        # ...and the captured body, replayed byte for byte, is still refused.
        assert (await h.http.post(h.base_url + WEBHOOK, content=body, headers=headers)).status_code == 200
        await h.settle()
        assert len(texts_to(zalo, WORKER)) == answered


def test_dedupe_keys_outlive_the_longest_allowed_window() -> None:
    assert timedelta(minutes=1440) * 2 <= PROCESSED_UPDATES_TTL
