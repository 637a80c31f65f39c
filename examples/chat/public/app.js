// The chat page. `Push` comes from Herald's push.js (<script src="{HERALD_API}/push.js">), the
// webman/push browser API: new Push({ url, app_key, auth }), subscribe(), channel.on(), trigger().
(function () {
  'use strict';
  var cfg = window.CHAT; // { me: {uid, name}, wsUrl, appKey, groups: [{id, name}] }
  var me = cfg.me;
  var $ = function (id) {
    return document.getElementById(id);
  };

  // 建立连接 (connect). `auth` is this app's route at webman/push's path.
  var push = new Push({ url: cfg.wsUrl, app_key: cfg.appKey, auth: '/plugin/webman/push/auth' });

  var state = {
    peer: null, // uid of the open conversation
    online: {}, // uid -> name (presence-online)
    threads: {}, // peer uid -> [{ id, mine, kind: 'message' | 'note', text, at }]
    unread: {}, // peer uid -> count
    chats: {}, // channel name -> channel (private-chat-a-b)
    events: [], // every app event received: { channel, event, data }, for the curious (and the tests)
    typingTimer: null,
    lastTypingSent: 0,
  };
  window.chat = { push: push, state: state };

  function record(channel, event, data) {
    state.events.push({ channel: channel, event: event, data: data });
  }

  // ---- connection state ----
  push.connection.on('state_change', function (s) {
    $('conn').textContent = s.current;
    $('conn').className = 'conn ' + s.current;
  });
  push.connection.on('error', function (e) {
    console.warn('push error', e.type, e.message);
  });

  // ---- user-{uid}: server events for me alone (the webman/push docs' channel) ----
  var userChannel = push.subscribe('user-' + me.uid);
  userChannel.on('message', function (m) {
    record('user-' + me.uid, 'message', m);
    addToThread(m.from_uid, { id: m.id, mine: false, kind: 'message', text: m.content, at: m.at });
    rememberName(m.from_uid, m.from_name);
    if (state.peer === m.from_uid) $('typing').textContent = '';
    if (state.peer === null) openChat(m.from_uid, false);
    else if (state.peer !== m.from_uid) {
      state.unread[m.from_uid] = (state.unread[m.from_uid] || 0) + 1;
      renderOnline();
    }
  });
  userChannel.on('friendApply', function (f) {
    record('user-' + me.uid, 'friendApply', f);
    notice(f.name + ' wants to be your friend', f.uid);
  });

  // ---- private-user-{uid}: only I may subscribe (the auth route checks it) ----
  var privateChannel = push.subscribe('private-user-' + me.uid);
  privateChannel.on('chat-open', function (c) {
    record('private-user-' + me.uid, 'chat-open', c);
    rememberName(c.from_uid, c.from_name);
    joinChat(c.channel, c.from_uid);
    if (state.peer === null) openChat(c.from_uid, false);
  });

  // ---- group-{id} ----
  var group = cfg.groups[0];
  $('group-name').textContent = group.name;
  push.subscribe('group-' + group.id).on('message', function (m) {
    record('group-' + group.id, 'message', m);
    appendMessage($('group-messages'), { mine: m.from_uid === me.uid, who: m.from_name, text: m.content, at: m.at, kind: 'message' });
  });

  // ---- presence-online: who is here ----
  var online = push.subscribe('presence-online');
  online.on('pusher:subscription_succeeded', function (members) {
    state.online = {};
    members.each(function (m) {
      state.online[m.id] = m.info && m.info.name;
    });
    renderOnline();
  });
  online.on('pusher:member_added', function (m) {
    state.online[m.id] = m.info && m.info.name;
    renderOnline();
  });
  online.on('pusher:member_removed', function (m) {
    delete state.online[m.id];
    renderOnline();
  });

  // ---- sign-in: events sent to me as a user (sendToUser), e.g. my messages sent from other tabs ----
  push.signin();
  push.user.on('sent', function (m) {
    record('#server-to-user-' + me.uid, 'sent', m);
    addToThread(m.to_uid, { id: m.id, mine: true, kind: 'message', text: m.content, at: m.at });
  });

  // ---- conversations: private-chat-{a}-{b}, shared by two users, for client events ----
  function chatChannelName(a, b) {
    var x = Number(a),
      y = Number(b);
    return 'private-chat-' + Math.min(x, y) + '-' + Math.max(x, y);
  }

  function joinChat(name, peerUid) {
    if (state.chats[name]) return state.chats[name];
    var ch = push.subscribe(name);
    // Client events reach the *other* subscribers of the channel, never the sender.
    ch.on('client-typing', function (t) {
      record(name, 'client-typing', t);
      if (state.peer !== peerUid) return;
      $('typing').textContent = nameOf(peerUid) + ' is typing…';
      clearTimeout(state.typingTimer);
      state.typingTimer = setTimeout(function () {
        $('typing').textContent = '';
      }, 3000);
    });
    ch.on('client-note', function (n) {
      record(name, 'client-note', n);
      addToThread(peerUid, { id: n.id, mine: false, kind: 'note', text: n.text, at: n.at });
      if (state.peer === peerUid) $('typing').textContent = '';
    });
    state.chats[name] = ch;
    return ch;
  }

  function openChat(peerUid, invite) {
    state.peer = peerUid;
    delete state.unread[peerUid];
    var name = chatChannelName(me.uid, peerUid);
    joinChat(name, peerUid);
    // Tell the peer (on their private-user channel) so that they subscribe to the same channel.
    if (invite) void api('/api/chats', { with: peerUid });
    $('direct').className = '';
    $('peer-name').textContent = nameOf(peerUid);
    $('peer-channel').textContent = name + ', client events';
    $('friend-btn').hidden = false;
    ['direct-input', 'send-btn', 'whisper-btn'].forEach(function (id) {
      $(id).disabled = false;
    });
    $('typing').textContent = '';
    renderThread();
    renderOnline();
  }

  // ---- composer ----
  $('direct-input').addEventListener('input', function () {
    var now = Date.now();
    if (state.peer === null || now - state.lastTypingSent < 1500) return;
    state.lastTypingSent = now;
    state.chats[chatChannelName(me.uid, state.peer)].trigger('client-typing', { from_uid: me.uid });
  });

  $('direct-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('direct-input').value.trim();
    if (!text || state.peer === null) return;
    var to = state.peer;
    $('direct-input').value = '';
    state.lastTypingSent = 0; // the next keystroke announces typing again
    void api('/api/messages', { to: to, content: text }).then(function (m) {
      if (m) addToThread(to, { id: m.id, mine: true, kind: 'message', text: m.content, at: m.at });
    });
  });

  $('whisper-btn').addEventListener('click', function () {
    var text = $('direct-input').value.trim();
    if (!text || state.peer === null) return;
    $('direct-input').value = '';
    state.lastTypingSent = 0;
    var note = { id: Math.random().toString(16).slice(2), from_uid: me.uid, text: text, at: Date.now() };
    state.chats[chatChannelName(me.uid, state.peer)].trigger('client-note', note);
    addToThread(state.peer, { id: note.id, mine: true, kind: 'note', text: text, at: note.at });
  });

  $('friend-btn').addEventListener('click', function () {
    if (state.peer === null) return;
    void api('/api/friends', { to: state.peer }).then(function (r) {
      if (r) {
        $('friend-btn').textContent = 'Request sent';
        $('friend-btn').disabled = true;
      }
    });
  });

  $('group-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('group-input').value.trim();
    if (!text) return;
    $('group-input').value = '';
    void api('/api/groups/' + group.id + '/messages', { content: text });
  });

  // ---- rendering ----
  function nameOf(uid) {
    return state.online[uid] || (state.names && state.names[uid]) || 'user ' + uid;
  }
  function rememberName(uid, name) {
    (state.names = state.names || {})[uid] = name;
  }

  function addToThread(peerUid, item) {
    var thread = state.threads[peerUid] || (state.threads[peerUid] = []);
    if (
      item.id &&
      thread.some(function (x) {
        return x.id === item.id;
      })
    )
      return; // sent from this tab and echoed by `sent`
    thread.push(item);
    if (state.peer === peerUid) renderThread();
  }

  function renderThread() {
    var list = $('direct-messages');
    list.textContent = '';
    (state.threads[state.peer] || []).forEach(function (m) {
      appendMessage(list, { mine: m.mine, who: m.mine ? me.name : nameOf(state.peer), text: m.text, at: m.at, kind: m.kind });
    });
  }

  function appendMessage(list, m) {
    var li = document.createElement('li');
    li.className = (m.mine ? 'mine ' : '') + m.kind;
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = m.who + (m.kind === 'note' ? ' (whisper)' : '');
    var text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    var at = document.createElement('time');
    at.textContent = new Date(m.at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    li.append(who, text, at);
    list.append(li);
    list.scrollTop = list.scrollHeight;
  }

  function renderOnline() {
    var list = $('online');
    list.textContent = '';
    var ids = Object.keys(state.online).sort(function (a, b) {
      return String(nameOf(a)).localeCompare(String(nameOf(b)));
    });
    $('online-count').textContent = String(ids.length);
    ids.forEach(function (uid) {
      var li = document.createElement('li');
      li.dataset.uid = uid;
      li.className = (uid === me.uid ? 'me' : 'peer') + (uid === state.peer ? ' active' : '');
      li.textContent = nameOf(uid) + (uid === me.uid ? ' (you)' : '');
      if (state.unread[uid]) {
        var badge = document.createElement('span');
        badge.className = 'badge';
        badge.textContent = String(state.unread[uid]);
        li.append(badge);
      }
      if (uid !== me.uid)
        li.addEventListener('click', function () {
          openChat(uid, true);
        });
      list.append(li);
    });
  }

  function notice(text, fromUid) {
    var div = document.createElement('div');
    div.className = 'notice';
    div.dataset.from = fromUid;
    div.textContent = text + ' ';
    var ok = document.createElement('button');
    ok.type = 'button';
    ok.className = 'link';
    ok.textContent = 'OK';
    ok.addEventListener('click', function () {
      div.remove();
    });
    div.append(ok);
    $('notices').append(div);
  }

  // Resolves with the JSON answer, or null (logged) when the request failed: it never rejects.
  function api(path, body) {
    return fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) {
        return r.ok
          ? r.json()
          : r.text().then(function (t) {
              console.warn(path, r.status, t);
              return null;
            });
      })
      .catch(function (err) {
        console.warn(path, err);
        return null;
      });
  }
})();
