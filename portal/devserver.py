"""`make run`: serve the portal on http://127.0.0.1:5000 with everything the journey needs."""

from __future__ import annotations

import os

from portal.app import create_app

HOST, PORT = "127.0.0.1", 5000


def main() -> None:
    os.environ.setdefault("PORTAL_ENV", "development")
    app = create_app()
    print(f"Portail des offres MSSanté: http://{HOST}:{PORT}/  (Ctrl+C to stop)", flush=True)
    app.run(host=HOST, port=PORT, debug=False, use_reloader=False, threaded=True)


if __name__ == "__main__":
    main()
