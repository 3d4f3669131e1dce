"""The 庭审笔录 (hearing transcript) as a Word document: each line's time, speaker and current
text, and beneath a corrected line what it said before and who corrected it, so the
printed record shows the correction as the system keeps it (SPC 2017 Art. 7)."""

from __future__ import annotations

import io
from datetime import datetime, tzinfo
from typing import Any

from docx import Document
from docx.shared import Pt

from streamd.models import Hearing


def _clock(iso: str, zone: tzinfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%H:%M:%S")


def docx_bytes(hearing: Hearing, view: dict[str, Any], zone: tzinfo) -> bytes:
    doc = Document()
    doc.add_heading("庭审笔录", level=1)
    start = hearing.planned_start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    doc.add_paragraph(f"案号：{hearing.case_number}　案由：{hearing.cause}　开庭时间：{start}")
    doc.add_paragraph(f"审判人员：{hearing.handler_judge}　书记员：{hearing.clerk}")
    doc.add_paragraph("当事人：" + "；".join(hearing.parties or []))
    if view.get("integrity"):
        doc.add_paragraph(f"录音录像完整性校验值（SHA-256）：{view['integrity']['value']}")
    for line in view["transcript"]:
        para = doc.add_paragraph()
        para.add_run(f"[{_clock(line['at'], zone)}] ").font.size = Pt(9)
        para.add_run(f"{line['speaker']}：").bold = True
        para.add_run(line["text"])
        for v in line["versions"][1:]:
            when = _clock(v["at"], zone)
            note = doc.add_paragraph(
                f"（第{v['version']}版，{v['by']}于{when}更正；原文：{v['before']}）"
            )
            note.runs[0].font.size = Pt(8)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
