"""Backend selection in settings: values checked, secrets refused."""

from __future__ import annotations

from qcn.server.settings import Settings, merge


def test_backend_settings_are_read_and_checked():
    s, problems = merge(Settings(), {"backend": "remote", "remoteUrl": "http://gpu:8000", "remoteModel": "q",
                                     "remoteCaBundle": "/ca.pem", "remoteTokenizer": "/tok"})
    assert problems == []
    assert (s.backend, s.remote_url, s.remote_model, s.remote_ca_bundle, s.remote_tokenizer) == \
        ("remote", "http://gpu:8000", "q", "/ca.pem", "/tok")
    s, problems = merge(Settings(), {"backend": "cloud"})
    assert s.backend == "local" and len(problems) == 1 and "backend" in problems[0]


def test_an_api_key_in_settings_is_ignored_and_not_echoed():
    s, problems = merge(Settings(), {"remoteApiKey": "sk-123456", "apiKey": "sk-abcdef"})
    assert s == Settings()
    assert len(problems) == 2
    assert all("QCN_API_KEY" in p and "sk-" not in p for p in problems)
