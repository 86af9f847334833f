"""``songda`` speaks the operator's language: Chinese under ``LANG=zh_CN.UTF-8``, English
otherwise, while names a program or a shell reads (``SONGDA_*``, options, commands) stay as
they are."""

from __future__ import annotations

from pathlib import Path

from cli_runner import songda

CHINESE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}
ENGLISH = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}


def _broken(tmp_path: Path, language: dict[str, str]) -> dict[str, str]:
    return {
        "SONGDA_DATA_DIR": str(tmp_path),
        "SONGDA_SMTP_TLS": "ssl3",
        "SONGDA_PORT": "http",
        **language,
    }


def test_config_check_names_the_problems_in_chinese(tmp_path: Path) -> None:
    checked = songda("config", "check", env=_broken(tmp_path, CHINESE))
    assert checked.returncode == 2
    out = checked.stdout
    assert "错误：SONGDA_SECRET_KEY：必填（至少 32 个字符）" in out
    assert "错误：SONGDA_SMTP_TLS：必须是 none, starttls, tls 之一" in out
    assert "错误：SONGDA_PORT：'http' 不是整数" in out
    assert "发现 " in out and " 个问题" in out
    assert "error:" not in out and "required" not in out


def test_config_check_speaks_english_without_a_chinese_locale(tmp_path: Path) -> None:
    for language in (ENGLISH, {**CHINESE, "LC_ALL": "C.UTF-8"}):
        checked = songda("config", "check", env=_broken(tmp_path, language))
        assert checked.returncode == 2
        assert "error: SONGDA_SECRET_KEY: required (at least 32 characters)" in checked.stdout
        assert "error: SONGDA_PORT: 'http' is not a whole number" in checked.stdout
        assert "problem(s) found" in checked.stdout


def test_a_good_configuration_and_its_advice_in_chinese(tmp_path: Path) -> None:
    env = {"SONGDA_DATA_DIR": str(tmp_path), **CHINESE}
    checked = songda("config", "check", "--sandbox", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "配置正常（数据库 sqlite+aiosqlite，Redis 内置" in checked.stdout
    assert "PDF 字体（仅用以下字体，不使用本机的任何字体）：" in checked.stdout
    split = songda("config", "check", "--sandbox", "--for", "worker", env=env)
    assert split.returncode == 2
    assert "SQLite 只供单个进程使用（`songda run`）" in split.stdout
    assert "SONGDA_REDIS_URL 未设置" in split.stdout


def test_commands_that_need_settings_refuse_in_chinese(tmp_path: Path) -> None:
    refused = songda("db", "upgrade", env={"SONGDA_DATA_DIR": str(tmp_path), **CHINESE})
    assert refused.returncode == 2
    assert "songda: 配置无法使用：" in refused.stderr
    assert "  - SONGDA_SECRET_KEY：必填（至少 32 个字符）" in refused.stderr
    assert "修正后请运行 `songda config check`。" in refused.stderr


def test_help_in_chinese_keeps_commands_and_options(tmp_path: Path) -> None:
    helped = songda("--help", env={"SONGDA_DATA_DIR": str(tmp_path), **CHINESE})
    assert helped.returncode == 0
    assert "电子送达" in helped.stdout
    assert "在一个进程中运行 web、worker 和内置 Redis" in helped.stdout
    assert "run" in helped.stdout and "config" in helped.stdout
    english = songda("--help", env={"SONGDA_DATA_DIR": str(tmp_path), **ENGLISH})
    assert "Electronic service of process" in english.stdout
    assert "电子送达" not in english.stdout


def test_a_database_command_without_a_court_asks_for_one_in_chinese(tmp_path: Path) -> None:
    env = {"SONGDA_DATA_DIR": str(tmp_path), **CHINESE}
    refused = songda("apikey", "create", "--name", "case system", env=env)
    assert refused.returncode == 2
    assert "请给出 --court，或设置 SONGDA_COURT_NAME" in refused.stderr
