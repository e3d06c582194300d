from tests.factories import create_spec


async def test_create_and_get(client):
    await create_spec(client)
    r = await client.get("/api/specs/ticket-triage")
    assert r.status_code == 200, r.text
    assert r.json()["latest_version"] == 1
