"""Error pages people can act on, in the DSFR style; JSON for the API."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (
            _("Requête incorrecte"),
            _(
                "La demande n’a pas pu être comprise. Vérifiez les informations saisies puis réessayez."
            ),
        ),
        403: (
            _("Accès refusé"),
            _(
                "Vous n’avez pas les droits nécessaires pour afficher cette page. Connectez-vous avec un compte autorisé ou revenez à l’accueil."
            ),
        ),
        404: (
            _("Page non trouvée"),
            _(
                "La page que vous cherchez est introuvable. Vérifiez l’adresse ou revenez à l’accueil."
            ),
        ),
        405: (
            _("Méthode non autorisée"),
            _("Cette action n’est pas possible sur cette page. Revenez à la page précédente."),
        ),
        429: (
            _("Trop de tentatives"),
            _(
                "Vous avez fait trop de tentatives en peu de temps. Patientez quelques minutes puis réessayez."
            ),
        ),
        500: (
            _("Erreur inattendue"),
            _(
                "Une erreur est survenue de notre côté. Réessayez dans quelques instants ; si le problème persiste, contactez le support."
            ),
        ),
    }


def render_error(code: int, detail: str | None = None):
    title, message = _messages().get(code, _messages()[500])
    if request.path.startswith("/api/"):
        return jsonify(
            {"error": {"status": code, "title": title, "detail": detail or message}}
        ), code
    return render_template(
        "errors/error.html", code=code, title=title, message=message, detail=detail
    ), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return render_error(
            400,
            _(
                "Le formulaire a expiré ou a été envoyé depuis une autre page. Rechargez la page et renvoyez-le ; vos informations n’ont pas été enregistrées."
            ),
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        code = error.code or 500
        if code not in _messages():
            return error
        detail = error.description if getattr(error, "portal_detail", False) else None
        return render_error(code, detail)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError):
        # Flask has already logged the exception with its traceback (app.log_exception).
        return render_error(500)
