"""A user and two agents, each in their own Chromium page, against the running demo."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from handoff_connectors.demo.runner import Demo

expect = pytest.importorskip("playwright.sync_api").expect

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "inbox.png"


def send(chat, text: str) -> None:
    chat.fill("#text", text)
    chat.press("#text", "Enter")


def last_bot(chat):
    return chat.locator("li.bot").last


def open_inbox(browser, demo: Demo, agent: str):
    page = browser.new_page(viewport={"width": 1200, "height": 720})
    page.add_init_script(f"localStorage.setItem('handoff-agent', {agent!r})")
    page.goto(demo.inbox_url)
    expect(page.locator("#connection")).to_have_text("live")
    return page


def test_a_whole_handoff_through_chat_page_and_inbox(browser, demo: Demo):
    chat = browser.new_page()
    chat.goto(demo.chat_url)
    send(chat, "where is my order")
    expect(last_bot(chat)).to_contain_text("Orders ship within two working days")
    send(chat, "I want to talk to a human")
    expect(last_bot(chat)).to_have_text("Before I connect you with a person, what is your email address?")
    send(chat, "maria@example.com")
    expect(last_bot(chat)).to_have_text("Let's send you to an available agent.")
    expect(chat.locator("li.buttons button")).to_have_text("End chat")

    sam = open_inbox(browser, demo, "Sam")
    handoff = sam.locator("#conversations li", has_text="maria@example.com")
    expect(handoff).to_contain_text("Waiting")
    handoff.click()
    expect(sam.locator("#transcript")).to_contain_text("where is my order")
    expect(sam.locator("#transcript")).to_contain_text("Orders ship within two working days")
    expect(sam.locator("#transcript li").last).to_have_text("UserI want to talk to a human")

    sam.click("#join")
    expect(last_bot(chat)).to_have_text("Sam has joined the chat.")

    # A second agent sees the handoff as taken and cannot reply.
    kim = open_inbox(browser, demo, "Kim")
    kim.locator("#conversations li", has_text="maria@example.com").click()
    expect(kim.locator("#detail-status")).to_have_text("Taken by Sam")
    expect(kim.locator("#reply")).to_be_disabled()

    sam.fill("#reply", "Hi Maria, Sam here. Let me check your order.")
    sam.press("#reply", "Enter")
    expect(last_bot(chat)).to_have_text("Hi Maria, Sam here. Let me check your order.")

    send(chat, "It's order 4411, thanks")
    expect(sam.locator("#messages li.user").last).to_have_text("UserIt's order 4411, thanks")
    # Live for the other agent too, without a reload.
    expect(kim.locator("#messages li.user").last).to_have_text("UserIt's order 4411, thanks")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    sam.screenshot(path=str(SCREENSHOT))

    sam.click("#close")
    expect(last_bot(chat)).to_have_text("The agent has ended the chat. I'm back if you need anything else.")
    expect(sam.locator("#detail-status")).to_have_text("Closed")

    send(chat, "what are your opening hours")
    expect(last_bot(chat)).to_have_text("We're open Monday to Friday, 9:00 to 18:00.")


def test_user_ends_the_chat_with_the_button(browser, demo: Demo):
    chat = browser.new_page()
    chat.goto(demo.chat_url)
    send(chat, "je veux parler à un humain")
    expect(last_bot(chat)).to_contain_text("adresse e-mail")
    send(chat, "luc@example.fr")
    expect(last_bot(chat)).to_have_text("Nous vous mettons en relation avec un agent disponible.")
    chat.locator("li.buttons button", has_text="Terminer la discussion").click()
    expect(last_bot(chat)).to_contain_text("Vous avez terminé la discussion")
    inbox = open_inbox(browser, demo, "Lea")
    expect(inbox.locator("#conversations li", has_text="luc@example.fr")).to_contain_text("Closed")


def test_inbox_without_its_token_is_refused(demo: Demo):
    base = f"http://127.0.0.1:{demo.ports.sidecar}"
    for path in ("/inbox", "/inbox/api/conversations", "/inbox/api/events", "/inbox?token=wrong"):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 401, path
        assert "maria@example.com" not in response.text
    reply = httpx.post(base + "/inbox/api/presence", json={"agent": "x", "available": True}, timeout=10)
    assert reply.status_code == 401
    authorised = httpx.get(base + "/inbox/api/conversations", headers={"Authorization": f"Bearer {demo.token}"})
    assert authorised.status_code == 200


def test_no_agent_available_gives_the_offline_message(browser, demo: Demo):
    headers = {"Authorization": f"Bearer {demo.token}"}
    base = f"http://127.0.0.1:{demo.ports.sidecar}/inbox/api/presence"
    httpx.post(base, json={"agent": "Robin", "available": False}, headers=headers).raise_for_status()
    agents = httpx.get(f"http://127.0.0.1:{demo.ports.sidecar}/inbox/api/conversations", headers=headers).json()["agents"]
    try:
        for name in agents:
            httpx.post(base, json={"agent": name, "available": False}, headers=headers).raise_for_status()
        chat = browser.new_page()
        chat.goto(demo.chat_url)
        send(chat, "I want to talk to a human")
        expect(last_bot(chat)).to_have_text(
            "There are no agents available at this time. When one becomes available, we'll connect you."
        )
    finally:
        for name in agents:
            httpx.post(base, json={"agent": name, "available": True}, headers=headers)
