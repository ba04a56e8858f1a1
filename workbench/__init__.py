"""The operator web UI: the workbench at ``/o/<org id>/`` (sidebar, task
view, transcript, composer, right panel, terminal). Views read the actors'
tables through their read functions and act by sending commands; the page
stays live over one websocket."""
