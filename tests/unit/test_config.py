from pathlib import Path

import pytest
from pydantic import ValidationError

from overcast.config import load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OVERCAST_DATA_DIR", "OVERCAST_LISTEN", "OVERCAST_DATABASE_URL", "OVERCAST_TRANSPORT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OVERCAST_CONFIG", str(tmp_path / "absent.toml"))


def test_embedded_defaults_put_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.sql_url == f"sqlite:///{tmp_path / 'overcast.db'}"
    assert settings.transport_url == "inproc://"
    assert settings.base_url == "http://127.0.0.1:8774"


def test_toml_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "overcast.toml"
    config.write_text('listen = "127.0.0.1:9000"\nregion = "Toml"\nrpc_timeout = 5\n')
    monkeypatch.setenv("OVERCAST_CONFIG", str(config))
    monkeypatch.setenv("OVERCAST_REGION", "Env")
    settings = load_settings(rpc_timeout=7.5)
    assert settings.listen == "127.0.0.1:9000"  # from the file
    assert settings.region == "Env"  # environment beats the file
    assert settings.rpc_timeout == 7.5  # explicit flags beat both


def test_env_sets_data_dir_and_listen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERCAST_DATA_DIR", str(tmp_path / "cloud-b"))
    monkeypatch.setenv("OVERCAST_LISTEN", "0.0.0.0:18774")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "cloud-b"
    assert settings.listen_port == 18774
    assert settings.base_url == "http://127.0.0.1:18774"


@pytest.mark.parametrize("listen", ["8774", "localhost:", ":80", "host:port", "h:70000"])
def test_bad_listen_address_is_refused(listen: str) -> None:
    with pytest.raises(ValidationError, match="listen"):
        load_settings(listen=listen)


def test_none_overrides_do_not_mask_lower_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERCAST_LISTEN", "127.0.0.1:9999")
    assert load_settings(listen=None).listen == "127.0.0.1:9999"
