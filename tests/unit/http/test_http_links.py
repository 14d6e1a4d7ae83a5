from npo_integration.http.links import parse_link_header

BASE = "https://canvas.example.edu/api/v1/courses?page=1&per_page=10"


def test_canvas_link_header_with_several_links() -> None:
    header = (
        '<https://canvas.example.edu/api/v1/courses?page=2&per_page=10>; rel="next",'
        '<https://canvas.example.edu/api/v1/courses?page=1&per_page=10>; rel="current",'
        ' <https://canvas.example.edu/api/v1/courses?page=1&per_page=10>; rel="first",'
        '<https://canvas.example.edu/api/v1/courses?page=5&per_page=10>; rel="last"'
    )
    links = parse_link_header([header], BASE)
    assert links["next"] == "https://canvas.example.edu/api/v1/courses?page=2&per_page=10"
    assert links["last"].endswith("page=5&per_page=10")
    assert set(links) == {"next", "current", "first", "last"}


def test_relative_urls_unquoted_rel_and_several_rel_values() -> None:
    values = ["</api/v1/courses?page=3>; rel=next", '<?page=9>; title="x, y"; REL="prev last"']
    links = parse_link_header(values, BASE)
    assert links["next"] == "https://canvas.example.edu/api/v1/courses?page=3"
    assert links["prev"] == links["last"] == "https://canvas.example.edu/api/v1/courses?page=9"


def test_comma_inside_url_and_several_header_lines() -> None:
    values = ['<https://h.example/x?ids=1,2,3>; rel="next"', '<https://h.example/a>; rel="first"']
    links = parse_link_header(values, BASE)
    assert links == {"next": "https://h.example/x?ids=1,2,3", "first": "https://h.example/a"}


def test_no_or_broken_links() -> None:
    assert parse_link_header([], BASE) == {}
    assert parse_link_header(["garbage"], BASE) == {}
    assert parse_link_header(["<https://h.example/x>"], BASE) == {}
