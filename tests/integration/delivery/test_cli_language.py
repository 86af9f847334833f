"""``songda`` speaks the operator's language: Chinese under ``LANG=zh_CN.UTF-8``, English
otherwise, while names a program or a shell reads (``SONGDA_*``, options, commands) stay as
they are."""

from __future__ import annotations

from pathlib import Path

from cli_runner import songda, sqlite_cli_env
from conftest import COURT

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


def test_database_commands_speak_chinese_and_keep_their_machine_output(tmp_path: Path) -> None:
    env = {**sqlite_cli_env(tmp_path), **CHINESE}
    upgraded = songda("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == "数据库已是最新迁移"

    bad_court = songda(
        "user",
        "create",
        "--username",
        "zhao",
        "--name",
        "赵",
        "--role",
        "clerk",
        "--court",
        " ",
        env=env,
    )
    assert bad_court.returncode == 2
    assert "songda: 法院：一个或多个非空的法院名称" in bad_court.stderr

    created = songda(
        "user", "create", "--username", "zhao", "--name", "赵", "--role", "clerk", env=env
    )
    assert created.returncode == 0, created.stderr
    assert f"（密码只显示一次；适用法院：{COURT}）" in created.stderr
    taken = songda(
        "user", "create", "--username", "zhao", "--name", "赵", "--role", "clerk", env=env
    )
    assert taken.returncode == 2
    assert "songda: 登录名：'zhao' 已被占用" in taken.stderr

    # The rows stay codes and tabs for scripts; the header (stderr) and the state are words.
    listed = songda("user", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.strip() == "登录名\t姓名\t角色\t法院\t状态"
    assert listed.stdout.splitlines() == [f"zhao\t赵\tclerk\t{COURT}\t有效"]

    report = songda("report", "--from", "2026-01-01", "--to", "2026-12-31", env=env)
    assert report.returncode == 0, report.stderr
    header, total = report.stdout.splitlines()
    assert header.split()[:4] == ["分组键", "分组", "已送达", "失败"]
    assert total.split()[:2] == ["total", "合计"]
    refused = songda("report", "--from", "2026-13-01", "--to", "2026-12-31", env=env)
    assert refused.returncode == 2
    assert "songda report: --from: " in refused.stderr
    assert "must be" not in refused.stderr

    english = songda("report", "--from", "2026-01-01", "--to", "2026-12-31", env={**env, **ENGLISH})
    assert english.stdout.splitlines()[0].split()[:3] == ["key", "label", "served"]


def test_verify_refuses_in_chinese(tmp_path: Path) -> None:
    env = {"SONGDA_DATA_DIR": str(tmp_path), **CHINESE}
    refused = songda("verify", str(tmp_path / "bundle.zip"), env=env)
    assert refused.returncode == 2
    assert "中没有法院密钥：请给出 --keys URL|FILE" in refused.stderr


def test_keys_list_says_the_standing_in_chinese(tmp_path: Path) -> None:
    env = {**sqlite_cli_env(tmp_path), **CHINESE}
    assert songda("keys", "create", env=env).returncode == 0
    rotated = songda("keys", "create", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "（现为法院当前密钥；私钥在 " in rotated.stderr
    listed = songda("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    standings = [line.split("\t")[-1] for line in listed.stdout.splitlines()]
    assert sorted(standings) == ["已停用", "当前"]
