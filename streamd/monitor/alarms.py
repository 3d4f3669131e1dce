"""Which of the monitor's alert conditions hold right now for one stream. Pure.

Each condition is re-evaluated after every sample and every second; the alert desk
raises an alert when its condition starts to hold and clears it when it stops, so a
technician sees an alert exactly as long as the problem lasts.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamd.lifecycle import PUBLIC, TERMINAL, StreamState
from streamd.monitor.detect import Run
from streamd.monitor.ledger import AUTHORISED_OFF, COURTROOM, Seen

BEFORE = frozenset({StreamState.BOOKED, StreamState.PREPARING, StreamState.READY})


@dataclass(frozen=True, slots=True)
class Limits:
    allowance_ms: int = 2000
    stall_ms: int = 5000
    picture_ms: int = 10_000


@dataclass(frozen=True, slots=True)
class Alarm:
    kind: str
    severity: str  # critical | warning
    zh: str
    en: str


KINDS = (
    "picture_during_pause",
    "live_outside_hearing",
    "no_frames",
    "platform_not_playing",
    "black_picture",
    "frozen_picture",
)


def active(
    state: StreamState,
    state_ms: int,
    video: Run | None,
    last_video_end: int | None,
    now: int,
    limits: Limits,
    *,
    pushing: bool = False,
) -> dict[str, Alarm]:
    """`video`: the open run of the picture track, if any. `pushing`: the stream is on a
    platform's line and its room's publisher is sending; nothing at the play address is
    then the platform's fault (it dropped or refused the stream), not the encoder's."""
    out: dict[str, Alarm] = {}
    courtroom = video is not None and video.kind in COURTROOM
    if courtroom and state in AUTHORISED_OFF:
        assert video is not None
        if video.end > state_ms + limits.allowance_ms:
            out["picture_during_pause"] = Alarm(
                "picture_during_pause",
                "critical",
                "暂停期间公开画面仍为法庭实况（应显示暂停画面）",
                "courtroom picture on the public stream during a pause",
            )
    if courtroom and (state in BEFORE or state in TERMINAL):
        assert video is not None
        if state in BEFORE or video.end > state_ms + limits.allowance_ms:
            when = ("宣布法庭纪律之前", "before discipline was announced")
            if state in TERMINAL:
                when = ("休庭之后", "after adjournment")
            out["live_outside_hearing"] = Alarm(
                "live_outside_hearing",
                "critical",
                f"{when[0]}公开画面出现法庭实况",
                f"courtroom picture on the public stream {when[1]}",
            )
    if state in PUBLIC:
        since = max(last_video_end or 0, state_ms)
        seconds = (now - since) / 1000
        if now - since > limits.stall_ms and pushing:
            out["platform_not_playing"] = Alarm(
                "platform_not_playing",
                "critical",
                f"法庭正在推流，但平台观看地址已 {seconds:.0f} 秒无画面（平台丢弃或拒绝了直播流）",
                f"the room is pushing but the platform's play address has shown nothing for "
                f"{seconds:.0f} s (the platform dropped or refused the stream)",
            )
        elif now - since > limits.stall_ms:
            out["no_frames"] = Alarm(
                "no_frames",
                "critical",
                f"公开输出已 {seconds:.0f} 秒无画面",
                f"no frames on the public output for {seconds:.0f} s",
            )
        if video is not None and video.end - video.start >= limits.picture_ms:
            if video.kind is Seen.BLACK:
                out["black_picture"] = Alarm(
                    "black_picture", "warning", "公开画面持续黑屏", "public picture is black"
                )
            elif video.kind is Seen.FROZEN:
                out["frozen_picture"] = Alarm(
                    "frozen_picture", "warning", "公开画面静止不动", "public picture is frozen"
                )
    return out
