"""Korean first, English available: Korean source strings, English translations beside them."""

from __future__ import annotations

from collections.abc import Callable

EN: dict[str, str] = {
    "고객센터": "Customer Center",
    "문의 접수": "Submit an inquiry",
    "문의 조회": "Check my inquiry",
    "자주 묻는 질문": "FAQ",
    "이름": "Name",
    "휴대폰 번호": "Mobile number",
    "이메일 (선택)": "E-mail (optional)",
    "문의 유형": "Topic",
    "선택해 주세요": "Please choose",
    "제목 (선택)": "Subject (optional)",
    "문의 내용": "Your inquiry",
    "첨부파일 (선택, 최대 5개, 파일당 10MB, JPG·PNG·GIF·WEBP·HEIC·PDF)": (
        "Attachments (optional, up to 5, 10 MB each, JPG·PNG·GIF·WEBP·HEIC·PDF)"
    ),
    "개인정보 수집·이용 동의 (필수)": "Consent to the collection and use of personal data (required)",
    "접수하기": "Submit",
    "접수번호": "Receipt number",
    "조회하기": "Look up",
    "문의가 접수되었습니다": "Your inquiry has been received",
    "상태": "Status",
    "답변": "Replies",
    "접수일시": "Filed at",
    "추가 문의": "Add to this inquiry",
    "보내기": "Send",
    "카드 분실·도난 신고는 24시간": "Lost or stolen card: 24 hours",
    "상담원이 CVC, 카드 비밀번호를 묻는 일은 절대 없습니다.": "We will never ask for your CVC or card PIN.",
    "카드번호, CVC, 비밀번호, 주민등록번호는 적지 마세요.": (
        "Do not write card numbers, CVC, passwords or resident registration numbers."
    ),
    "접수번호와 휴대폰 번호를 꼭 메모해 두세요. 답변 조회에 필요합니다.": (
        "Please note your receipt number and phone number: you need them to check replies."
    ),
    "아직 답변이 없습니다. 순서대로 답변드리겠습니다.": "No reply yet. We will answer in turn.",
    "고객": "You",
    "상담원": "Agent",
    "안내": "Notice",
    "챗봇": "Bot",
    "채팅 상담": "Chat",
    "콜백 예약": "Request a call back",
}


def translator(language: str) -> Callable[[str], str]:
    if language == "en":
        return lambda text: EN.get(text, text)
    return lambda text: text


CONSENT_TEXT_KO = (
    "수집 항목: 이름, 휴대폰 번호, 이메일, 문의 내용, 첨부파일 · 이용 목적: 문의 접수 및 답변, 본인 확인 · "
    "보유 기간: 문의 종료 후 3년(전자상거래 등에서의 소비자보호에 관한 법률) · "
    "동의를 거부할 수 있으나, 거부 시 문의 접수가 제한됩니다."
)
CONSENT_TEXT_EN = (
    "Collected: name, mobile number, e-mail, inquiry text, attachments · Purpose: answering your inquiry and "
    "verifying you · Kept: 3 years after the inquiry closes · You may refuse, but then we cannot take the inquiry."
)
