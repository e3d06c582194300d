"""The features that landed after the web app, in a real browser: publishing a breaking
contract change asks for confirmation, the Jobs pages, and a file picker in the playground."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.sync_api import Page, expect

from tests.factories import make_document
from tests.files.samples import make_pdf, make_png
from tests.servers import ROOT
from tests.web.conftest import WebServer, shot, sign_in

PURCHASE_ORDER = ROOT / "specs" / "purchase-order-extraction.yaml"


def _live(api: httpx.Client, document: dict[str, Any]) -> None:
    created = api.post("/api/specs", json={"document": document})
    assert created.status_code == 201, created.text
    published = api.post(
        f"/api/specs/{document['name']}/publish",
        json={"version": 1, "force": True, "reason": "set up"},
    )
    assert published.status_code == 200, published.text


def test_publishing_a_breaking_change_asks_for_confirmation(
    page: Page, web_server: WebServer, api: httpx.Client
) -> None:
    document = make_document("contract-keeper")
    _live(api, document)
    narrowed = make_document("contract-keeper")
    narrowed["input_schema"]["properties"]["order_id"] = {"type": "string"}
    narrowed["input_schema"]["required"].append("order_id")  # a new required input breaks
    narrowed["examples"][0]["input"]["order_id"] = "A-1"
    saved = api.post(
        "/api/specs/contract-keeper/versions",
        json={"document": narrowed, "base_version": 1, "message": "needs an order id"},
    )
    assert saved.status_code == 201, saved.text

    sign_in(page, web_server)
    page.goto("/ui/agents/contract-keeper/diff?from=1&to=2")
    expect(page.locator("#contract")).to_contain_text("breaking change for callers")
    expect(page.locator("#contract")).to_contain_text("new required input field 'order_id'")
    shot(page, "20-diff-breaking")

    page.goto("/ui/agents/contract-keeper/versions")
    page.select_option('#publish-form select[name="version"]', "2")
    page.fill('#publish-form input[name="reason"]', "tests pending")
    page.check('#publish-form input[name="force"]')
    page.click('#publish-form button:has-text("Publish")')
    expect(page.locator("#breaking-changes")).to_contain_text("order_id")
    expect(page.locator('#versions tr[data-version="1"] .badge.live')).to_be_visible()
    # what was typed is kept; only the confirmation is missing
    expect(page.locator('#publish-form select[name="version"]')).to_have_value("2")
    expect(page.locator('#publish-form input[name="reason"]')).to_have_value("tests pending")
    shot(page, "21-publish-breaking")

    page.check('#publish-form input[name="confirm_breaking"]')
    page.click('#publish-form button:has-text("Publish")')
    expect(page.locator('#versions tr[data-version="2"] .badge.live')).to_be_visible()
    expect(page.locator("#releases tbody tr").first).to_contain_text("breaking, confirmed")
    release = api.get("/api/specs/contract-keeper/releases").json()["items"][-1]
    assert (release["to_version"], release["breaking_confirmed"]) == (2, True)


def test_the_jobs_pages_show_a_queued_job_and_its_results(
    page: Page, web_server: WebServer, api: httpx.Client
) -> None:
    _live(api, make_document("batch-triage"))
    inputs = [{"subject": "Refund", "body": f"charged twice, order {n}"} for n in range(3)]
    submitted = api.post("/v1/agents/batch-triage/jobs", json={"inputs": inputs})
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]

    sign_in(page, web_server)
    page.click('nav a:has-text("Jobs")')
    page.wait_for_url("**/ui/jobs")
    page.select_option('#job-filters select[name="agent"]', "batch-triage")
    page.select_option('#job-filters select[name="status"]', "queued")
    page.click('#job-filters button:has-text("Filter")')
    row = page.locator(f'#jobs tr[data-job="{job_id}"]')
    expect(row).to_contain_text("queued")  # no worker runs in this server
    expect(row).to_contain_text("3 total")
    expect(row.locator("progress")).to_have_attribute("value", "0.0")
    shot(page, "22-jobs")
    page.select_option('#job-filters select[name="status"]', "succeeded")
    page.click('#job-filters button:has-text("Filter")')
    expect(page.locator("#jobs")).to_contain_text("No jobs match.")

    page.goto(f"/ui/jobs/{job_id}")
    expect(page.locator("#job-status")).to_have_text("queued")
    expect(page.locator("#job-counts tbody")).to_contain_text("3")
    shot(page, "23-job")
    with page.expect_download() as download:
        page.click("#results-download")
    lines = Path(download.value.path()).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"index": n, "status": "queued"} for n in range(3)
    ]


def test_the_playground_uploads_a_pdf_from_its_file_picker(
    page: Page, web_server: WebServer, api: httpx.Client, tmp_path: Path
) -> None:
    _live(api, yaml.safe_load(PURCHASE_ORDER.read_text()))
    pdf = tmp_path / "po.pdf"
    pdf.write_bytes(make_pdf())

    sign_in(page, web_server)
    page.goto("/ui/agents/purchase-order-extraction/playground")
    picker = page.locator('input[type="file"][name="in.document_pdf"]')
    expect(picker).to_have_attribute("accept", "application/pdf")
    picker.set_input_files(str(pdf))
    page.click('button:has-text("Run v1")')
    expect(page.locator("#typed-output")).to_contain_text("4500018342")
    expect(page.locator("#output-json")).to_contain_text("Pacific Medical Supply, Inc.")
    shot(page, "24-playground-pdf")

    # the case editor turns a picked file into the field's value, stored once by hash
    page.goto("/ui/agents/purchase-order-extraction/cases/new")
    page.fill('input[name="name"]', "reads the printed PO number")
    page.fill('textarea[name="input"]', "{}")
    page.fill(
        'textarea[name="expect"]', json.dumps([{"path": "/po_number", "equals": "4500018342"}])
    )
    # a file the field does not take is refused at the input, with what was typed kept
    png = tmp_path / "photo.png"
    png.write_bytes(make_png())
    page.locator('input[type="file"][name="file.document_pdf"]').set_input_files(str(png))
    page.click('button:has-text("Save case")')
    expect(page.locator('label:has(textarea[name="input"]) .field-error')).to_contain_text(
        "/input/document_pdf"
    )
    expect(page.locator('input[name="name"]')).to_have_value("reads the printed PO number")
    page.locator('input[type="file"][name="file.document_pdf"]').set_input_files(str(pdf))
    page.click('button:has-text("Save case")')
    page.wait_for_url("**/ui/agents/purchase-order-extraction/tests")
    expect(page.locator("#cases")).to_contain_text("reads the printed PO number")
    cases = api.get("/api/specs/purchase-order-extraction/cases").json()["items"]
    stored = next(c for c in cases if c["name"] == "reads the printed PO number")
    reference = stored["input"]["document_pdf"]["$file"]
    assert reference["media_type"] == "application/pdf"
    assert reference["size"] == len(pdf.read_bytes())
