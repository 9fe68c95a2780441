import json
import logging

from portal.logs import JsonFormatter


def test_json_lines_carry_the_request_id_and_extra_fields(app):
    record = logging.LogRecord("portal.test", logging.WARNING, __file__, 1, "order %s", (7,), None)
    record.order_id = 7
    with app.test_request_context("/offres", headers={"X-Request-Id": "abcdef0123456789"}):
        app.preprocess_request()
        line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "order 7"
    assert line["level"] == "warning"
    assert line["order_id"] == 7
    assert line["request_id"] == "abcdef0123456789"
    assert line["path"] == "/offres"
