"""`unionbot zalo check-signature FILE`: which signature formula and key a real request used.

Zalo documents no OA webhook signature; real code disagrees (docs/zalo.md). An
operator whose events are all refused captures one request (a request inspector as the
webhook URL for a minute, or the proxy's log) and runs this on it. The file is either

* the request as text: an optional request line, the headers, an empty line, the raw
  body (`curl -v` or a request inspector's "raw" view), or
* JSON: `{"headers": {...}, "body": "<raw body as a string>"}`.

The keys come from the environment (ZALO_OA_SECRET_KEY, ZALO_OA_APP_SECRET) and are
never printed. Exit 0 when the OA secret key matches under some formula, 1 when
nothing matches, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bot.channels.zalo.errors import MalformedPayload
from bot.channels.zalo.webhook import (
    SIGNATURE_HEADER,
    carries_event,
    load_oa_body,
    matching_signatures,
)
from bot.config import Config

KEY_NAMES = {"ZALO_OA_SECRET_KEY": "oa_secret_key", "ZALO_OA_APP_SECRET": "oa_app_secret"}


class CaptureError(ValueError):
    pass


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    zalo = sub.add_parser("zalo", help="Zalo set-up helpers")
    zalo_sub = zalo.add_subparsers(dest="zalo_command", required=True, parser_class=type(zalo))
    check = zalo_sub.add_parser(
        "check-signature",
        parents=[common],
        help="say which OA signature formula and key match a captured webhook request",
    )
    check.add_argument("file", type=Path, help="the captured request: headers, empty line, raw body (or JSON)")
    check.set_defaults(func=_check_signature)


def read_capture(data: bytes) -> tuple[dict[str, str], bytes]:
    """(headers with lower-case names, raw body) from a captured request."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(stripped)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("headers"), dict) and isinstance(doc.get("body"), str):
            headers = {str(k).lower(): str(v) for k, v in doc["headers"].items()}
            return headers, doc["body"].encode()
    for sep in (b"\r\n\r\n", b"\n\n"):
        head, found, body = data.partition(sep)
        if found:
            break
    else:
        raise CaptureError("no empty line between the headers and the body")
    headers = {}
    for line in head.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon and " " not in name.strip():
            headers[name.strip().lower()] = value.strip()
    if not headers:
        raise CaptureError("no headers found before the empty line")
    return headers, body


async def _check_signature(args: argparse.Namespace, config: Config) -> int:
    try:
        headers, body = read_capture(args.file.read_bytes())
    except OSError as exc:
        print(f"unionbot zalo: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except CaptureError as exc:
        print(f"unionbot zalo: {args.file} is not a captured request: {exc}", file=sys.stderr)
        return 2
    return check_capture(headers, body, config)


def check_capture(headers: dict[str, str], body: bytes, config: Config) -> int:
    zalo = config.zalo
    keys = {name: getattr(zalo, attr) or "" for name, attr in KEY_NAMES.items()}
    signature = headers.get(SIGNATURE_HEADER.lower())
    # Editors and copy-paste add a final newline the signed bytes did not have.
    candidates = [("as captured", body)]
    if body.endswith(b"\n"):
        candidates.append(("without the final newline", body.rstrip(b"\r\n")))
    try:
        parsed = load_oa_body(candidates[-1][1])
    except MalformedPayload as exc:
        print(f"body: {exc}; Zalo's events are JSON objects")
        return 1
    if not carries_event(parsed):
        print("body: no event_name: this is Zalo's check of the webhook URL, answered 200 unsigned")
        return 0
    print(f"signature header ({SIGNATURE_HEADER}): {'present' if signature else 'MISSING'}")
    body_app = parsed.get("app_id")
    if zalo.oa_app_id:
        print(f"app_id in the body {'matches' if str(body_app) == zalo.oa_app_id else 'differs from'} ZALO_OA_APP_ID")
    missing = [name for name, key in keys.items() if not key]
    if missing:
        print(f"not set, so not tried: {', '.join(missing)}")
    found = False
    for label, raw in candidates:
        for formula, key_name in matching_signatures(raw, signature, keys):
            found = True
            line = f'MATCH: formula "{formula}" with {key_name} (body {label})'
            if key_name == "ZALO_OA_SECRET_KEY":
                current = " (the current setting)" if zalo.oa_signature == formula else ""
                line += f' -> [zalo] oa_signature = "{formula}"{current}'
            else:
                line += f' -> put that value in ZALO_OA_SECRET_KEY and set [zalo] oa_signature = "{formula}"'
            print(line)
    if not found:
        print(
            "no known formula matches with the configured keys: "
            "sha256(app_id|oa_id + body + timestamp + key) with ZALO_OA_SECRET_KEY or ZALO_OA_APP_SECRET"
        )
        return 1
    return 0
