"""The invoice sync's QuickBooks requests do not read the token store on every request: an
access token read there is reused for `TOKEN_REUSE_S` (it was valid for at least the
refresh margin when read), and a 401 drops it, so the next request refreshes and goes on."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from integrations_pipelines.state.tables import oauth_tokens
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.quickbooks.client import connect
from integrations_pipelines_tests.support import sandbox_quickbooks_settings


def test_an_access_token_is_reused_until_quickbooks_refuses_it(
        engine: sa.Engine, qbo_sandbox: Any) -> None:
    server, books = qbo_sandbox
    qbo = connect(sandbox_quickbooks_settings(server, books), engine,
                  contracts=ContractGuard(engine))
    with qbo.http:
        assert qbo.find_customers("DisplayName = 'nobody'") == []
        assert qbo.tokens is not None and qbo.tokens.refreshes == 1  # the first token
        with engine.begin() as conn:  # the stored token is made one QuickBooks refuses
            held = conn.execute(sa.select(oauth_tokens.c.access_token)).scalar_one()
            conn.execute(oauth_tokens.update().values(access_token="not-the-one-held"))
        # The held token is sent (no read of the store, so no 401 and no refresh).
        assert qbo.find_customers("DisplayName = 'nobody'") == []
        assert qbo.tokens.refreshes == 1 and books.stats["unauthorized"] == 0
        with engine.begin() as conn:
            conn.execute(oauth_tokens.update().values(access_token=held))
        books.tokens.expire_access()  # QuickBooks refuses every access token issued
        assert qbo.find_customers("DisplayName = 'nobody'") == []  # 401, refresh, retry
        assert qbo.tokens.refreshes == 2
    assert books.stats["unauthorized"] == 1
