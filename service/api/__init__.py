"""HTTP routes. Each module does HTTP only; the logic lives in serving objects on `app.state`."""
