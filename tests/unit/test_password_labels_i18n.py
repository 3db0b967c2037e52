"""A password under its name in other languages: Latin-1 ones through the generic rule, other
scripts through a rule of their own; each beside sentences that name a password but hold none."""

from __future__ import annotations

import pytest

from slack_dlp.detect.engine import DetectionEngine
from tests.quality.outside import Gen

_PW = Gen(23).password()


LATIN = [
    f"Passwort: {_PW}",
    f"Das neue Passwort ist {_PW}",
    f"Kennwort={_PW}",
    f"mot de passe : {_PW}",
    f"le mot de passe est {_PW}",
    f"Contraseña: {_PW}",
    f"la contraseña es {_PW}",
    f"senha: {_PW}",
    f"wachtwoord: {_PW}",
    f"Lösenord: {_PW}",
    f"passord: {_PW}",
    f"salasana: {_PW}",
    f"heslo: {_PW}",
    f"jelszó: {_PW}",
    f"la password è {_PW}",
]
OTHER_SCRIPTS = [
    f"hasło: {_PW}",
    f"Пароль: {_PW}",
    f"ПАРОЛЬ={_PW}",
    f"κωδικός: {_PW}",
    f"şifre: {_PW}",
    f"パスワード：{_PW}",
    f"密码: 「{_PW}」",
    f"密碼：{_PW}",
    f"비밀번호: {_PW}",
]


@pytest.mark.parametrize("text", LATIN)
def test_password_labels_in_latin_languages_are_found(engine: DetectionEngine, text: str) -> None:
    assert [(f.detector, text[f.start : f.end]) for f in engine.scan(text)] == [("generic-secret-assignment", _PW)]


@pytest.mark.parametrize("text", OTHER_SCRIPTS)
def test_password_labels_in_other_scripts_are_found(engine: DetectionEngine, text: str) -> None:
    found = [(f.detector, text[f.start : f.end]) for f in engine.scan(text)]
    assert found == [("generic-secret-assignment-non-latin", _PW)]


QUIET = [
    "Passwort vergessen? Hier zurücksetzen: https://acme.de/reset",
    "Das Passwort ist abgelaufen",
    "la contraseña es muy segura",
    "mot de passe : ${DB_PASSWORD}",
    "パスワード：変更してください",
    "пароль: смотри в 1Password",
    "密码：请联系管理员",
    "hasło: ********",
    "비밀번호를 잊어버렸어요",
]


@pytest.mark.parametrize("text", QUIET)
def test_sentences_about_passwords_stay_quiet(engine: DetectionEngine, text: str) -> None:
    assert engine.scan(text) == []
