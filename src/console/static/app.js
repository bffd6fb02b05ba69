// madoguchi console: small conveniences on top of server-rendered pages that work
// without JavaScript. Served from /staff/static/app.js (the CSP forbids inline script).
(function () {
  'use strict';

  // Suggested replies: copy the FAQ answer into the reply box.
  document.querySelectorAll('button.use-reply').forEach(function (b) {
    b.addEventListener('click', function () {
      var src = document.getElementById(b.getAttribute('data-target'));
      var box = document.getElementById('reply-text');
      if (src && box) {
        box.value = src.textContent;
        box.focus();
      }
    });
  });

  // Live queue: the server says when the queue changed; fetch the fresh sections.
  var queue = document.getElementById('queue');
  if (!queue || !window.EventSource) return;
  var live = document.getElementById('live');
  var baseTitle = document.title;
  var known = {};
  queue.querySelectorAll('li[data-id]').forEach(function (li) { known[li.getAttribute('data-id')] = true; });
  function refresh() {
    fetch('/staff/queue-fragment', { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        queue.innerHTML = html; // server-rendered and escaped
        var fresh = 0;
        queue.querySelectorAll('li[data-id]').forEach(function (li) {
          var id = li.getAttribute('data-id');
          if (!known[id]) { known[id] = true; li.classList.add('new'); fresh++; }
        });
        if (fresh > 0) document.title = '(' + fresh + ' 件の新着) ' + baseTitle;
        if (live) live.textContent = '更新しました（' + new Date().toLocaleTimeString('ja-JP') + '）';
      })
      .catch(function () {});
  }
  var es = new EventSource('/staff/events');
  es.addEventListener('queue', refresh);
  es.addEventListener('open', function () { if (live) live.textContent = '自動更新中'; });
  document.addEventListener('visibilitychange', function () { if (!document.hidden) document.title = baseTitle; });
})();
