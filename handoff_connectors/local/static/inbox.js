// Agent inbox: live list of handoffs over server-sent events; join, reply, close.
(() => {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);
  const nameInput = $("agent-name");
  nameInput.value = localStorage.getItem("handoff-agent") || `Agent ${Math.floor(100 + Math.random() * 900)}`;
  localStorage.setItem("handoff-agent", nameInput.value);
  nameInput.addEventListener("change", () => {
    nameInput.value = nameInput.value.trim() || "Agent";
    localStorage.setItem("handoff-agent", nameInput.value);
    setPresence(isAvailable());
  });

  let conversations = [];
  let selectedId = null;
  const agent = () => nameInput.value.trim();

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ agent: agent(), ...body }),
    });
    const payload = await response.json().catch(() => ({}));
    if (!response.ok) alert(payload.error || `Failed (${response.status})`);
    return payload;
  }

  const isAvailable = () => $("presence").getAttribute("aria-pressed") === "true";
  function setPresence(available) {
    $("presence").setAttribute("aria-pressed", String(available));
    $("presence").textContent = available ? "Available" : "Away";
    call("/inbox/api/presence", { available });
  }
  $("presence").addEventListener("click", () => setPresence(!isAvailable()));

  function status(conversation) {
    if (conversation.status === "closed") return ["closed", "Closed"];
    if (!conversation.agent) return ["waiting", "Waiting"];
    if (conversation.agent === agent()) return ["mine", "You"];
    return ["taken", `Taken by ${conversation.agent}`];
  }

  function line(className, from, text) {
    const item = document.createElement("li");
    item.className = className;
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    item.append(who, document.createTextNode(text));
    return item;
  }

  function renderList() {
    const list = $("conversations");
    list.replaceChildren();
    $("empty").hidden = conversations.length > 0;
    const order = { waiting: 0, mine: 1, taken: 2, closed: 3 };
    const sorted = [...conversations].sort(
      (a, b) => order[status(a)[0]] - order[status(b)[0]] || b.created_at - a.created_at
    );
    for (const conversation of sorted) {
      const [kind, label] = status(conversation);
      const item = document.createElement("li");
      item.dataset.id = conversation.id;
      item.className = conversation.id === selectedId ? "selected" : "";
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = conversation.email || conversation.sender_id;
      const badge = document.createElement("span");
      badge.className = `badge ${kind}`;
      badge.textContent = label;
      const preview = document.createElement("span");
      preview.className = "preview";
      const last = conversation.messages[conversation.messages.length - 1];
      preview.textContent = last ? last.text : conversation.latest_question;
      item.append(who, badge, preview);
      item.addEventListener("click", () => { selectedId = conversation.id; render(); });
      list.append(item);
    }
  }

  function renderDetail() {
    const conversation = conversations.find((c) => c.id === selectedId);
    $("detail").hidden = !conversation;
    if (!conversation) return;
    const [kind, label] = status(conversation);
    $("detail-email").textContent = conversation.email || conversation.sender_id;
    $("detail-status").className = `badge ${kind}`;
    $("detail-status").textContent = label;
    $("detail-routing").textContent = conversation.routing ? `Routed to ${conversation.routing}` : "";
    $("detail-note").hidden = !conversation.message_to_agent;
    $("detail-note").textContent = conversation.message_to_agent || "";
    const transcript = $("transcript");
    transcript.replaceChildren(
      ...conversation.transcript.map((t) => line(t.speaker, t.speaker === "user" ? "User" : "Bot", t.text)),
      line("user", "User", conversation.latest_question)
    );
    const messages = $("messages");
    const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
    messages.replaceChildren(
      ...conversation.messages.map((m) =>
        m.from === "system" ? line("system", "", m.text) : line(m.from, m.from === "user" ? "User" : "Agent", m.text)
      )
    );
    if (atBottom) messages.scrollTop = messages.scrollHeight;
    const mine = kind === "mine";
    $("join").hidden = kind !== "waiting";
    $("close").disabled = kind === "closed" || kind === "taken";
    $("reply").disabled = $("send").disabled = !mine;
  }

  function render() { renderList(); renderDetail(); }

  $("join").addEventListener("click", () => call(`/inbox/api/conversations/${selectedId}/join`, {}));
  $("close").addEventListener("click", () => call(`/inbox/api/conversations/${selectedId}/close`, {}));
  $("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("reply").value.trim();
    if (!text) return;
    $("reply").value = "";
    await call(`/inbox/api/conversations/${selectedId}/reply`, { text, id: crypto.randomUUID() });
  });
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("reply-form").requestSubmit(); }
  });

  const stream = new EventSource(`/inbox/api/events?token=${encodeURIComponent(token)}`);
  stream.addEventListener("open", () => { $("connection").textContent = "live"; });
  stream.addEventListener("error", () => { $("connection").textContent = "reconnecting…"; });
  stream.addEventListener("snapshot", (event) => {
    conversations = JSON.parse(event.data).conversations;
    if (!selectedId && conversations.length) selectedId = conversations[conversations.length - 1].id;
    render();
  });
  setPresence(true);
})();
