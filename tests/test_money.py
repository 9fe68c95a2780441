from portal.money import format_money, format_percent_bp


def test_french_prices_use_a_comma_and_the_euro_sign_after():
    assert format_money(1200, "EUR", "fr") == "12,00\xa0€"
    assert format_money(0, "EUR", "fr") == "0,00\xa0€"


def test_english_prices_put_the_euro_sign_first():
    assert format_money(123456, "EUR", "en") == "€1,234.56"


def test_vat_rates():
    assert format_percent_bp(2000, "fr") == "20\u202f%"
    assert format_percent_bp(550, "en") == "5.5%"
