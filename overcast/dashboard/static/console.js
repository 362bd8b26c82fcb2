// The serial console: xterm.js joined to the compute API's serial websocket (bytes both ways).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var element = document.getElementById("terminal");
  var state = document.getElementById("console-state");
  var terminal = new window.Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  terminal.open(element);
  var socket = new WebSocket(element.dataset.url, ["binary"]);
  socket.binaryType = "arraybuffer";
  var encoder = new TextEncoder();
  socket.onopen = function () {
    state.textContent = "Connected. Press Enter if the console is quiet.";
    terminal.focus();
  };
  socket.onmessage = function (event) {
    terminal.write(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
  };
  socket.onclose = function (event) {
    state.textContent = "Disconnected" + (event.reason ? ": " + event.reason : ".");
  };
  terminal.onData(function (data) {
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(encoder.encode(data));
    }
  });
});
