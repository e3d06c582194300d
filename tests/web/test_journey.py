"""A newcomer's whole journey in a real browser: sign in with the printed link, create an
agent from nothing, test it, publish it, call it, change a rule, diff, publish, roll back,
download the OpenAPI document."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import LAPTOP, PHONE, WebServer, shot, sign_in

AGENT = "refund-router"
RULE_1 = "Refund requests go to the billing team."
RULE_2 = "Damaged parcels go to shipping, whatever the amount."


def _add_row(page: Page, section: str, name: str, kind: str, required: bool = True) -> None:
    page.click(f'button[data-add-row="{section}"]')
    row = page.locator(f"#section-{section} tr.field-row").last
    row.locator('input[aria-label="field name"]').fill(name)
    row.locator('select[aria-label="type"]').select_option(kind)
    if required:
        row.locator('input[aria-label="required"]').check()


def _create_agent(page: Page) -> None:
    page.click("text=+ New agent")
    page.wait_for_url("**/ui/agents/new")
    page.fill('input[name="name"]', AGENT)
    page.fill('input[name="title"]', "Refund router")
    page.fill('textarea[name="description"]', "Route a customer's message to a team.")
    # input: rename the starter field, add a number
    page.fill('input[name="input-0-name"]', "message")
    page.fill('input[name="input-0-description"]', "what the customer wrote")
    _add_row(page, "input", "amount", "number")
    # the raw JSON Schema tab shows the same schema, and coming back keeps the rows
    page.click('#section-input button[data-tab="json"]')
    raw = page.locator('#section-input textarea[name="input_raw"]')
    expect(raw).to_contain_text('"amount"')
    schema = json.loads(raw.input_value())
    assert schema["properties"]["amount"] == {"type": "number"}
    assert schema["required"] == ["message", "amount"]
    page.click('#section-input button[data-tab="fields"]')
    expect(page.locator("#section-input tr.field-row")).to_have_count(2)
    # rules
    page.locator('textarea[name="rule"]').first.fill(RULE_1)
    page.click("button[data-add-rule]")
    page.locator('textarea[name="rule"]').last.fill("Keep the reason under twenty words.")
    # output: an enum and a string
    page.fill('input[name="output-0-name"]', "team")
    page.select_option('select[name="output-0-type"]', "enum")
    page.fill('input[name="output-0-enum"]', "billing, shipping")
    _add_row(page, "output", "reason", "string")
    page.fill('input[name="message"]', "First version")
    shot(page, "02-editor-new-agent")
    page.click('button:has-text("Create agent")')
    page.wait_for_url(f"**/ui/agents/{AGENT}/versions")


def _add_case(page: Page) -> None:
    page.click('nav.tabs a:has-text("Tests")')
    page.click("text=+ Add case")
    page.fill('input[name="name"]', "refund goes somewhere valid")
    page.fill('textarea[name="input"]', json.dumps({"message": "I want a refund", "amount": 12}))
    page.fill(
        'textarea[name="expect"]',
        json.dumps(
            [
                {"path": "/team", "one_of": ["billing", "shipping"]},
                {"path": "/reason", "exists": True},
            ]
        ),
    )
    shot(page, "04-case-form")
    page.click('button:has-text("Save case")')
    page.wait_for_url(f"**/ui/agents/{AGENT}/tests")
    expect(page.locator("#cases")).to_contain_text("refund goes somewhere valid")


def _generate_cases(page: Page) -> None:
    # no case names a rule yet, so every rule is listed as without a case
    expect(page.locator("#uncovered")).to_contain_text(RULE_1)
    page.click('button:has-text("Generate cases")')
    page.wait_for_url(f"**/ui/agents/{AGENT}/tests")
    generated = page.locator("#cases tr:has(.badge.generated)")
    expect(generated.first).to_be_visible()
    assert generated.count() >= 2  # from the input schema, and one per rule
    # the offline model wrote the rule cases: their expected values are placeholders
    expect(page.locator('#cases tr:has-text("rule 1:")')).to_contain_text("placeholder")
    expect(page.locator('#cases tr[data-case="refund goes somewhere valid"]')).to_contain_text(
        "manual"
    )
    shot(page, "04b-generated-cases")


def _run_suite(page: Page, version: int) -> None:
    page.goto(f"/ui/agents/{AGENT}/tests")
    page.select_option('#run-form select[name="version"]', str(version))
    page.click('button:has-text("Run suite")')
    page.wait_for_url("**/ui/test-runs/*")
    # htmx polls the results until the run finishes
    expect(page.locator("#run-status")).to_have_text("passed", timeout=30_000)
    expect(page.locator("#run-offline")).to_contain_text("no evidence")
    expect(page.locator(".case-result", has_text="refund goes somewhere valid")).to_be_visible()
    expect(page.locator(".case-result", has_text="rule 1:")).to_be_visible()  # a generated one


def _publish(page: Page, version: int) -> None:
    """On the offline model a passed run is no evidence: Publish says so, and goes through
    only forced, with a reason."""
    page.goto(f"/ui/agents/{AGENT}/versions")
    page.select_option('#publish-form select[name="version"]', str(version))
    page.fill('#publish-form input[name="reason"]', f"ship v{version}")
    page.click('#publish-form button:has-text("Publish")')
    expect(page.locator("p.error[role=alert]")).to_contain_text("offline model")
    page.select_option('#publish-form select[name="version"]', str(version))
    page.check('#publish-form input[name="force"]')
    page.click('#publish-form button:has-text("Publish")')
    expect(page.locator(f'#versions tr[data-version="{version}"] .badge.live')).to_be_visible()


def test_newcomer_journey(page: Page, web_server: WebServer) -> None:
    page.goto(web_server.login_link())
    page.wait_for_url("**/ui")
    expect(page.locator("h2")).to_have_text("Agents")
    expect(page.locator("#offline-banner")).to_contain_text(
        "No model is configured: answers are placeholders"
    )
    shot(page, "01-agents-empty")

    _create_agent(page)
    expect(page.locator('#versions tr[data-version="1"]')).to_contain_text("First version")
    _add_case(page)
    _generate_cases(page)
    _run_suite(page, 1)
    shot(page, "05-test-run")
    _publish(page, 1)
    shot(page, "06-versions-published")

    # call it from the playground, from the form generated out of the input schema
    page.click('nav.tabs a:has-text("Playground")')
    page.fill('textarea[name="in.message"]', "My parcel arrived broken, I want a refund")
    page.fill('input[name="in.amount"]', "40")
    page.click('button:has-text("Run v1")')
    expect(page.locator("#typed-output")).to_contain_text("team")
    expect(page.locator("#output-json")).to_contain_text('"reason"')
    expect(page.locator("details.attempt").first).to_contain_text("tokens")
    expect(page.locator("#call-result")).to_contain_text("Compiled prompt")
    shot(page, "07-playground")

    # save the call as a test case: promoted, with its input and assertions on its output
    # nothing is saved until the author confirms the expected values (the model's answer)
    page.click("#save-as-case")
    expect(page.locator("#promotion-review")).to_contain_text("model's own answer")
    assert "parcel arrived broken" in page.locator('textarea[name="input"]').input_value()
    assert '"/team"' in page.locator('textarea[name="expect"]').input_value()
    page.fill('input[name="name"]', "saved from the playground")
    page.check('input[name="confirmed"]')
    page.click('button:has-text("Confirm and save case")')
    saved = page.locator('#cases tr[data-case="saved from the playground"]')
    expect(saved).to_contain_text("promoted")
    shot(page, "07b-tests")
    saved.locator('button:has-text("Delete")').click()
    expect(page.locator("#cases")).not_to_contain_text("saved from the playground")

    # edit a rule: version 2; its suite starts by itself
    page.click('nav.tabs a:has-text("Edit")')
    page.locator('textarea[name="rule"]').first.fill(RULE_2)
    page.fill('input[name="message"]', "Damaged parcels go to shipping")
    shot(page, "08-editor-edit")
    page.click('button:has-text("Save as version 2")')
    page.wait_for_url(f"**/ui/agents/{AGENT}/versions")
    expect(page.locator('#versions tr[data-version="2"]')).to_contain_text("Damaged parcels")

    page.click('button:has-text("Diff")')
    page.wait_for_url(re.compile(r".*/diff\?from=1&to=2"))
    expect(page.locator(".diff-add").first).to_contain_text(RULE_2)
    expect(page.locator(".diff-remove").first).to_contain_text(RULE_1)
    # only a rule changed: the contract classification says callers are unaffected
    expect(page.locator("#contract")).to_contain_text("compatible with existing callers")
    shot(page, "09-diff")

    page.goto(f"/ui/agents/{AGENT}/versions")
    page.locator('#versions tr[data-version="2"] a').click()
    expect(page.locator("#run-status")).to_have_text("passed", timeout=30_000)
    _publish(page, 2)
    page.select_option('#rollback-form select[name="version"]', "1")
    page.fill('#rollback-form input[name="reason"]', "v2 misroutes refunds")
    page.click('#rollback-form button:has-text("Roll back")')
    expect(page.locator('#versions tr[data-version="1"] .badge.live')).to_be_visible()
    expect(page.locator("#releases tbody tr").first).to_contain_text("rollback")
    expect(page.locator("#releases tbody tr").first).to_contain_text("v2 misroutes refunds")
    shot(page, "10-rolled-back")

    # the API page: a snippet with a real input, and the OpenAPI download
    page.click('nav.tabs a:has-text("API")')
    expect(page.locator("#snippet-curl")).to_contain_text("I want a refund")
    expect(page.locator("#snippet-go")).to_contain_text("http.NewRequest")
    shot(page, "11-api")
    with page.expect_download() as download:
        page.click("#openapi-download")
    document = json.loads(Path(download.value.path()).read_text())
    operation = document["paths"][f"/v1/agents/{AGENT}"]["post"]
    assert operation["operationId"] == "invoke_refund_router"

    page.click('nav.tabs a:has-text("Executions")')
    expect(page.locator("#charts svg")).to_have_count(3)
    # production traffic by default: the playground and test runs are shown when asked for
    expect(page.locator("#executions tbody tr").first).to_contain_text("No executions match")
    page.select_option('#execution-filters select[name="source"]', "playground")
    page.click('#execution-filters button:has-text("Filter")')
    expect(page.locator("#executions tbody tr").first).to_contain_text(AGENT)
    expect(page.locator("#executions tbody tr").first).to_contain_text("playground")
    page.select_option('#execution-filters select[name="source"]', "all")
    page.select_option('#execution-filters select[name="status"]', "succeeded")
    page.click('#execution-filters button:has-text("Filter")')  # an empty version means any
    expect(page.locator("#executions tbody tr").first).to_contain_text("succeeded")
    shot(page, "12-executions")
    page.locator("#executions tbody tr a").first.click()
    expect(page.locator("#execution-input")).to_be_visible()
    shot(page, "13-execution")

    page.click('nav a:has-text("Audit")')
    expect(page.locator("#audit")).to_contain_text("spec.rolled_back")
    shot(page, "14-audit")

    page.goto("/ui")
    expect(page.locator(f'#agents tr[data-agent="{AGENT}"]')).to_contain_text("v1")
    shot(page, "15-agents")


def test_api_key_secret_is_shown_once(page: Page, web_server: WebServer) -> None:
    sign_in(page, web_server)
    page.goto("/ui/keys")
    page.fill('#key-form input[name="name"]', "billing app")
    page.click('button:has-text("Create key")')
    secret = page.locator("#secret-value").inner_text().strip()
    assert secret.startswith("sk-sl-")
    shot(page, "16-keys-created")
    page.goto("/ui/keys")
    assert secret not in page.content()
    expect(page.locator('#keys tr[data-key="billing app"]')).to_contain_text(secret[6:14])
    page.locator('#keys tr[data-key="billing app"] button:has-text("Revoke")').click()
    expect(page.locator('#keys tr[data-key="billing app"]')).to_contain_text("revoked")


def test_phone_width(browser: Browser, web_server: WebServer) -> None:
    context = browser.new_context(base_url=web_server.base_url, viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, web_server)
        shot(page, "phone-agents")
        # nothing but wide tables may scroll sideways: the page itself fits the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
        page.goto("/ui/agents/new")
        shot(page, "phone-editor")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    finally:
        context.close()
    assert LAPTOP["width"] > PHONE["width"]
