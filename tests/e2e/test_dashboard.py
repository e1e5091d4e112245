"""The dashboard as an administrator uses it: log in, find a job, run it from its form, watch
it run, read its records, cancel a long run."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect
from tests.e2e.conftest import PASSWORD, shoot
from tests.integration.conftest import wait_for_status

from rota.auth.roles import SYSTEM
from rota.model.status import RunStatus
from rota.services import runs
from rota.store import Store


def test_before_the_first_admin_the_login_page_says_how_to_create_one(
    page: Page, synced: Store
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("#setup")).to_contain_text(
        "create the first administrator: rota users create-admin NAME"
    )


def test_login_overview_jobs_and_logout(page: Page, admin: str, synced: Store) -> None:
    answer = page.goto("/jobs")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fjobs"))
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page.fill("#name", admin)
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    assert "password" not in (error.text_content() or "").lower().replace("name or password", "")
    shoot(page, "login-error")

    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.locator("#user-name")).to_have_text(admin)
    expect(page.locator(".tenant")).to_contain_text("all tenants")

    page.fill("#q", "echo")
    page.click(".filters button")
    rows = page.locator("#jobs tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("t.echo")
    page.select_option("#kind", "python")
    page.fill("#q", "")
    page.click(".filters button")
    expect(page.locator("#jobs")).to_contain_text("t.drip")
    expect(page.locator("#jobs")).not_to_contain_text("t.echo")
    shoot(page, "jobs")
    page.goto("/jobs?q=%3Cimg%20id%3Dinjected%20src%3Dx%3E")  # text, never HTML
    expect(page.locator("#q")).to_have_value("<img id=injected src=x>")
    expect(page.locator("#injected")).to_have_count(0)

    page.goto("/jobs/t.echo")
    expect(page.locator("#job-id")).to_have_text("t.echo")
    expect(page.locator("main")).to_contain_text("ops-team")
    schedule = page.locator("#schedules tbody tr").first
    expect(schedule).to_contain_text("Europe/Berlin")
    expect(schedule).to_contain_text("UTC")  # the next fire time
    shoot(page, "job")

    page.click("text=Overview")
    expect(page.locator("h1")).to_have_text("Overview")
    expect(page.locator("main")).to_contain_text("t.echo")  # next fires
    shoot(page, "overview")

    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/login"))
    page.goto("/runs")
    expect(page).to_have_url(re.compile(r"/login"))


def test_run_now_form_validates_in_the_browser_and_on_the_server(logged_in: Page) -> None:
    page = logged_in
    page.goto("/jobs/t.echo")
    page.click("#run-now")
    count = page.locator("#p-count")
    expect(count).to_have_attribute("type", "number")
    expect(count).to_have_attribute("max", "5")
    expect(count).to_have_value("1")
    expect(page.locator("#p-day")).to_have_attribute("type", "date")
    expect(page.locator("#p-word")).to_have_value("hi")

    count.fill("9")
    page.click("#start")
    # The browser refused to send the form.
    assert page.eval_on_selector("#p-count", "e => e.validity.rangeOverflow")
    expect(page).to_have_url(re.compile(r"/jobs/t.echo/run$"))

    # Without the browser's checks the server refuses, next to the field.
    page.eval_on_selector("#run-form", "f => { f.noValidate = true; }")
    page.click("#start")
    expect(page.locator("#e-count")).to_contain_text("above the maximum 5")
    expect(page.locator("#p-count")).to_have_value("9")
    shoot(page, "run-form-error")

    page.fill("#p-count", "2")
    page.fill("#p-word", "hello")
    page.click("#start")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    expect(page.locator("#run-status")).to_have_text("completed", timeout=20_000)
    expect(page.locator("#triggered-by")).to_contain_text("ada")
    expect(page.locator("#run-as")).to_have_text("ada")
    expect(page.locator("main")).to_contain_text("hello")


def test_a_destructive_job_needs_the_confirmation(logged_in: Page) -> None:
    page = logged_in
    page.goto("/jobs/t.wipe/run")
    page.click("#start")
    expect(page.locator("#e-confirm")).to_contain_text("destructive")
    page.check("#confirm")
    page.click("#start")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))


def test_the_run_page_shows_the_log_live_and_the_final_status(logged_in: Page) -> None:
    page = logged_in
    page.goto("/jobs/t.drip/run")
    page.click("#start")
    expect(page).to_have_url(re.compile(r"/runs/\d+$"))
    log = page.locator("#log")
    expect(log).to_contain_text("drop 0")
    # A line arrives while the run is still running (the page has not reloaded).
    expect(page.locator("#run-status")).to_have_text("running")
    expect(log).to_contain_text("drop 2")
    shoot(page, "run-live")
    expect(page.locator("#run-status")).to_have_text("completed", timeout=20_000)
    expect(page.locator("#log")).to_contain_text("drop 4")


def test_records_failed_first_and_the_csv(logged_in: Page, synced: Store, tmp_path: Path) -> None:
    page = logged_in
    run = runs.start_run(synced, "t.some_bad", {}, principal=SYSTEM)
    wait_for_status(synced, run.id, RunStatus.PARTIAL)
    page.goto(f"/runs/{run.id}")
    expect(page.locator("#run-status")).to_have_text("partial")
    first = page.locator("#records tbody tr").first
    expect(first).to_contain_text("bad value")
    page.click("#failed-only")
    expect(page.locator("#records tbody tr")).to_have_count(1)
    shoot(page, "run-records")
    with page.expect_download() as download:
        page.click("#csv")
    saved = tmp_path / "records.csv"
    download.value.save_as(saved)
    text = saved.read_text()
    assert "bad value" in text and "a,inserted" in text


def test_cancel_a_long_run(logged_in: Page, synced: Store) -> None:
    page = logged_in
    run = runs.start_run(synced, "t.coop", {}, principal=SYSTEM)
    wait_for_status(synced, run.id, RunStatus.RUNNING)
    page.goto(f"/runs/{run.id}")
    page.click("#cancel")  # the confirmation dialog is accepted
    expect(page.locator("#run-status")).to_have_text("canceled", timeout=20_000)
    expect(page.locator("#history")).to_contain_text("canceled")
    expect(page.locator("#cancel")).to_have_count(0)
