// The demo's user chat: messages go to Rasa's callback channel via the sidecar;
// the bot's and the agent's replies arrive as server-sent events.
(() => {
  "use strict";
  const sender = sessionStorage.getItem("handoff-demo-sender") || `demo-${crypto.randomUUID()}`;
  sessionStorage.setItem("handoff-demo-sender", sender);
  const log = document.getElementById("log");
  const input = document.getElementById("text");

  function bubble(kind, text) {
    const item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    log.append(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  async function send(text, shown = text) {
    bubble("user", shown);
    await fetch("/chat/api/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender, text }),
    });
  }

  document.getElementById("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });

  const stream = new EventSource(`/chat/api/events?sender=${encodeURIComponent(sender)}`);
  stream.addEventListener("bot", (event) => {
    const message = JSON.parse(event.data);
    if (message.text) bubble("bot", message.text);
    if (message.buttons && message.buttons.length) {
      const row = bubble("buttons", "");
      for (const button of message.buttons) {
        const element = document.createElement("button");
        element.type = "button";
        element.textContent = button.title;
        element.addEventListener("click", () => { row.remove(); send(button.payload, button.title); });
        row.append(element);
      }
    }
  });
  input.focus();
})();
