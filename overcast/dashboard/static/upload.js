// Image upload: make the image record, then send the file with a progress bar (XMLHttpRequest reports
// the bytes sent, which fetch does not), the CSRF token in a header.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("image-upload");
  var error = document.getElementById("upload-error");
  var progress = document.getElementById("upload-progress");
  var bar = document.getElementById("upload-bar");
  var percent = document.getElementById("upload-percent");
  var token = form.elements.csrf_token.value;

  function fail(message) {
    error.textContent = message;
    error.hidden = false;
    form.querySelector("button").disabled = false;
  }

  function messageOf(request) {
    try {
      return JSON.parse(request.responseText).message;
    } catch (ignored) {
      return request.statusText || "The upload failed.";
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    error.hidden = true;
    form.querySelector("button").disabled = true;
    var file = form.elements.file.files[0];
    var fields = new URLSearchParams(new FormData(form));
    fields.delete("file");
    var create = new XMLHttpRequest();
    create.open("POST", form.action);
    create.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
    create.setRequestHeader("Accept", "application/json");
    create.onload = function () {
      if (create.status !== 201) {
        return fail(messageOf(create));
      }
      var made = JSON.parse(create.responseText);
      var upload = new XMLHttpRequest();
      upload.open("PUT", made.data_url);
      upload.setRequestHeader("X-CSRF-Token", token);
      upload.setRequestHeader("Accept", "application/json");
      upload.setRequestHeader("Content-Type", "application/octet-stream");
      progress.hidden = false;
      upload.upload.onprogress = function (step) {
        if (step.lengthComputable) {
          var done = Math.floor((100 * step.loaded) / step.total);
          bar.value = done;
          bar.textContent = percent.textContent = done + "%";
        }
      };
      upload.onload = function () {
        if (upload.status !== 200) {
          return fail(messageOf(upload));
        }
        bar.value = 100;
        percent.textContent = "100%";
        window.location.assign(JSON.parse(upload.responseText).detail_url);
      };
      upload.onerror = function () { fail("The connection broke during the upload."); };
      upload.send(file);
    };
    create.onerror = function () { fail("The dashboard could not be reached."); };
    create.send(fields.toString());
  });
});
