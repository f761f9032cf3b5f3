"""extract_code against real-world SMS formats, plus property checks on arbitrary text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.otp import MAX_CODE_CHARS, extract_code, upstream_code

pytestmark = pytest.mark.postgres

CODES = [
    # Google, Facebook, Instagram, WhatsApp, Telegram
    ("G-123456 is your Google verification code.", "123456"),
    ("FB-12345 is your Facebook confirmation code", "12345"),
    ("123456 is your Facebook code. Laugh and share 42 moments", "123456"),
    ("Use 123 456 to verify your Instagram account.", "123456"),
    ("Your WhatsApp code: 583-920", "583920"),
    (
        "Your WhatsApp code 583-920\nYou can also tap on this link to verify your phone: "
        "v.whatsapp.com/583920\nDon't share this code with others",
        "583920",
    ),
    ("Telegram code 12345", "12345"),
    ("Telegram code: 12345\n\nYou can also tap on this link to log in:\nhttps://t.me/login/12345", "12345"),
    # Android SMS Retriever: <#> tag and trailing app hash
    ("<#> 4821 is your code FA+9qCX9VSu", "4821"),
    ("<#> Your ExampleApp code is: 123ABC78\nFA+9qCX9VSu", "123ABC78"),
    ("<#> Your code: 6502\n2g7Xk/4Pq1Z", "6502"),
    # other big senders
    (
        "Your Uber code: 1234. Never share this code. Reply STOP ALL to +1 415-237-0403 to unsubscribe.",
        "1234",
    ),
    ("123456 is your Amazon OTP. Do not share it with anyone.", "123456"),
    ("Use 1234567 as Microsoft account security code", "1234567"),
    ("[TikTok] 123456 is your verification code, valid for 5 minutes.", "123456"),
    ("Your Discord security code is: 802144", "802144"),
    ("Your Apple ID Code is: 371942. Don't share it with anyone.\n\n@apple.com #371942 %apple.com", "371942"),
    ("Your Twitter confirmation code is 5G7K2P", "5G7K2P"),
    ("Your Steam Guard code: 4TX9Q", "4TX9Q"),
    # Russian
    ("Ваш код подтверждения: 7314. Никому не сообщайте его", "7314"),
    ("Код: 5521 для входа в Telegram", "5521"),
    ("VK: 123456 — код для входа", "123456"),
    ("Пароль для входа в Сбербанк Онлайн: 48213. Никому его не сообщайте.", "48213"),
    # Spanish, Portuguese
    ("Tu código de verificación es 889123", "889123"),
    ("Código de WhatsApp: 123-456", "123456"),
    ("Seu código de verificação é 778899. Não compartilhe.", "778899"),
    ("Sua senha do iFood: 4410", "4410"),
    # Indonesian, German, French, Turkish
    ("Kode verifikasi Anda 345678", "345678"),
    ("JANGAN BERIKAN KODE INI KE SIAPAPUN. Kode OTP Gojek: 2246. Berlaku 10 menit", "2246"),
    ("Ihr Bestätigungscode lautet 482913.", "482913"),
    ("Votre code de vérification est : 246810", "246810"),
    ("Doğrulama kodunuz: 135790. Bu kodu kimseyle paylaşmayın.", "135790"),
    # CJK, Arabic-Indic digits
    ("【腾讯科技】验证码 556677，5分钟内有效", "556677"),
    ("【淘宝】您的验证码是123456，请勿泄露。", "123456"),
    ("認証コード：654321", "654321"),
    ("[Web발신] 인증번호 [918273]를 입력해주세요", "918273"),
    ("رمز التحقق الخاص بك هو ١٢٣٤٥٦", "123456"),
    # phone numbers, dates, times and amounts around the code
    ("Call +1 (202) 555-0199 if this wasn't you. Code: 4455", "4455"),
    ("If this wasn't you call 8-800-555-35-35. Код 2719", "2719"),
    ("On 2026-03-21 your code is 998877", "998877"),
    ("21.03.2026 12:30 Ваш код 6611", "6611"),
    ("You paid $12.50. Code 774411", "774411"),
    ("Списано 1500 руб. Код подтверждения 3366", "3366"),
    ("Order 55123 shipped. Your code: 9876", "9876"),
    ("© 2026 Acme. Your PIN 8080", "8080"),
    # no keyword: a standalone group that is nothing else
    ("Acme: 482910", "482910"),
    ("Meeting 12:30 on 21/03. 5533 to confirm", "5533"),
    ("Happy 2026! 7788", "7788"),
]

NEGATIVES = [
    "",
    "Hello there",
    "Your order will be delivered on 21.03.2026",
    "Call us at +1 202 555 0123",
    "Horário: 12:30, total R$ 1.234,56",
    "Your balance is $1250.00",
    "Visit https://example.com/verify/123456 for details",
    "Card *4321 charged 500 руб",
    "Happy New Year 2026!",
    "Order #123456 confirmed",
]


@pytest.mark.parametrize(("text", "expected"), CODES)
def test_extracts_code(text: str, expected: str | None) -> None:
    assert extract_code(text) == expected


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_code(text: str) -> None:
    assert extract_code(text) is None


VALID = re.compile(r"[0-9]{4,8}|(?=[A-Z0-9]*[0-9])(?=[A-Z0-9]*[A-Z])[A-Z0-9]{4,8}")


@given(st.text())
def test_never_raises_and_result_is_well_formed(text: str) -> None:
    code = extract_code(text)
    assert code is None or VALID.fullmatch(code)


@given(st.text(alphabet=" \n.,:;-+()$#/<>0123456789abcXYZкод码", max_size=80))
def test_digit_heavy_noise_is_well_formed(text: str) -> None:
    code = extract_code(text)
    assert code is None or VALID.fullmatch(code)


@given(st.from_regex(r"[0-9]{4,8}", fullmatch=True), st.sampled_from(["Your code is {}", "{} is your code"]))
def test_templated_code_is_found(code: str, template: str) -> None:
    assert extract_code(template.format(code)) == code


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("583920", "583920"),
        ("  4TX9Q\n", "4TX9Q"),
        ("x" * MAX_CODE_CHARS, "x" * MAX_CODE_CHARS),
        ("x" * (MAX_CODE_CHARS + 1), None),  # longer than any code: some other text
        ("a" * 4000, None),  # an SMS with no digits, handed over as the "code"
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_upstream_code_longer_than_32_is_not_a_code(given: str | None, kept: str | None) -> None:
    assert MAX_CODE_CHARS == 32
    assert upstream_code(given) == kept
