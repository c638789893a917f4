import csv
from pathlib import Path

import pytest

from hotline_audit.files import csv_bytes
from hotline_audit.registry import RegistryError, load_registry

HEADER = "hotline_id,name,province,city,tier,website\n"


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_loads_and_normalises_urls(tmp_path):
    path = write(tmp_path, "r.csv", HEADER
                 + "nanjing,南京12345,江苏省,南京,新一线,www.nj12345.gov.cn\n"
                 + "local,本地测试,江苏省,苏州,,http://127.0.0.1:8080\n"
                 + ",,,,,\n")  # blank line from a spreadsheet: skipped
    hotlines = load_registry(path)
    assert [h.hotline_id for h in hotlines] == ["nanjing", "local"]
    assert hotlines[0].website == "http://www.nj12345.gov.cn/"
    assert hotlines[1].website == "http://127.0.0.1:8080/"
    assert hotlines[1].tier is None


def test_csv_saved_by_chinese_excel_in_gbk_with_bom_variants(tmp_path):
    gbk = write(tmp_path, "gbk.csv", HEADER + "hz,杭州12345,浙江省,杭州,新一线,\n", "gb18030")
    assert load_registry(gbk)[0].name == "杭州12345"
    bom = write(tmp_path, "bom.csv", "\ufeff" + HEADER + "hz,杭州12345,浙江省,杭州,新一线,\n")
    assert load_registry(bom)[0].hotline_id == "hz"


def test_every_problem_names_line_and_field(tmp_path):
    path = write(tmp_path, "bad.csv", HEADER
                 + "ok1,南京12345,江苏省,南京,,\n"
                 + "bad id,苏州12345,江苏省,苏州,,\n"
                 + "x2,无锡12345,,无锡,,ftp://x.gov.cn\n"
                 + "ok1,重复,江苏省,南京,,\n")
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    problems = info.value.problems
    assert any(p.startswith("line 3: field 'hotline_id'") for p in problems)
    assert "line 4: field 'province': missing or empty" in problems
    assert any(p.startswith("line 4: field 'website': not an http(s) URL") for p in problems)
    assert any(p.startswith("line 5: field 'hotline_id': duplicate 'ok1' (first on line 2)") for p in problems)
    assert str(path) in str(info.value)


def test_csv_without_required_columns(tmp_path):
    path = write(tmp_path, "r.csv", "id,name\n1,x\n")
    with pytest.raises(RegistryError, match="header lacks column"):
        load_registry(path)


def test_yaml_with_line_numbers(tmp_path):
    path = write(tmp_path, "r.yaml", """
hotlines:
  - hotline_id: nanjing
    name: 南京12345
    province: 江苏省
    city: 南京
  - hotline_id: suzhou
    name: 苏州12345
    city: 苏州
""")
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    assert info.value.problems == ["line 7: field 'province': missing or empty"]
    good = write(tmp_path, "g.yml", "- {hotline_id: a1, name: 甲, province: 江苏省, city: 南京, website: 'https://a.gov.cn/x'}\n")
    assert load_registry(good)[0].website == "https://a.gov.cn/x"


@pytest.mark.parametrize("name,text,message", [
    ("missing.csv", None, "file not found"),
    ("r.json", "{}", "unknown registry type"),
    ("empty.csv", "", "empty file"),
    ("only_header.csv", HEADER, "no hotlines"),
    ("broken.yaml", "hotlines: [a, {", "not valid YAML"),
    ("scalar.yaml", "hotlines: 3", "expected a list"),
])
def test_unusable_files(tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match=message):
        load_registry(path)


def one_row(tmp_path: Path, **fields: str) -> Path:
    """A registry of one hotline, ``fields`` over a good row."""
    row = {"hotline_id": "nj", "name": "南京12345", "province": "江苏省", "city": "南京", **fields}
    path = tmp_path / "one.csv"
    path.write_bytes(csv_bytes([row]))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    return info.value.problems


@pytest.mark.parametrize("url,message", [
    # Schemes other than http(s), also without '//': the old rule added http:// in front.
    ("javascript:alert(1)", "not an http(s) URL"),
    ("JavaScript:alert(1)", "not an http(s) URL"),
    ("javascript:1", "not an http(s) URL"),  # not host 'javascript' at port 1
    ("javascript://%0aalert(1)", "not an http(s) URL"),
    ("data:text/html,<script>alert(1)</script>", "not an http(s) URL"),
    ("file:///etc/passwd", "not an http(s) URL"),
    ("ftp://x.gov.cn/", "not an http(s) URL"),
    ("mailto:12345@x.gov.cn", "not an http(s) URL"),
    ("chrome://settings", "not an http(s) URL"),
    ("chrome:settings", "not an http(s) URL"),
    ("about:blank", "not an http(s) URL"),
    # Hosts that are not what they seem, or not hosts at all.
    ("http://gov.cn@evil.test/", "user name or password before '@', so it goes to 'evil.test'"),
    ("http://12345.gov.cn:pw@evil.test/", "user name or password"),
    ("http://evil.test\\@gov.cn/", "contains '\\\\'"),
    ("http://www.x.gov.cn /", "contains ' ': write a space as %20"),
    ("http://a b.gov.cn/", "contains ' '"),
    ("http:www.x.gov.cn", "names no host"),
    ("http:///path", "names no host"),
    ("http://x.gov.cn:abc/", "the port must be a number from 1 to 65535"),
    ("http://x.gov.cn:70000/", "the port must be a number from 1 to 65535"),
    ("http://[::1/", "not a usable URL"),
    ("http://999.1.1.1/", "is not a host name or an IP address"),
    ("http://-x.gov.cn/", "is not a host name or an IP address"),
    ("http://x..gov.cn/", "is not a host name or an IP address"),
    ("http://%65vil.test/", "is not a host name or an IP address"),
    ("http://x.gov.cn/\x00", "control or invisible character (U+0000"),
    ("http://x.gov.cn/" + "a" * 1985, "too long: at most 2,000 characters, this one has 2,001"),
])
@pytest.mark.parametrize("field", ["website", "h5", "gov_portal"])
def test_only_http_urls_with_a_real_host(tmp_path, field, url, message):
    found = problems(one_row(tmp_path, **{field: url}))
    assert len(found) == 1 and found[0].startswith(f"line 2: field '{field}': "), found
    assert message in found[0]
    assert len(found[0]) < 240  # a long URL is cut short in the message


@pytest.mark.parametrize("url,website", [
    ("www.x.gov.cn", "http://www.x.gov.cn/"),
    ("www.x.gov.cn/path/index.html?a=1", "http://www.x.gov.cn/path/index.html?a=1"),
    ("www.x.gov.cn/go?to=http://y.gov.cn/", "http://www.x.gov.cn/go?to=http://y.gov.cn/"),
    ("www.x.gov.cn:8080/p", "http://www.x.gov.cn:8080/p"),
    ("127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ("localhost:8080", "http://localhost:8080/"),
    ("//www.x.gov.cn/a", "http://www.x.gov.cn/a"),
    ("HTTPS://WWW.X.GOV.CN", "HTTPS://WWW.X.GOV.CN/"),
    ("http://[::1]:8080/", "http://[::1]:8080/"),
    ("https://南京12345.政务.cn/", "https://南京12345.政务.cn/"),
    ("http://www.nj12345.gov.cn.test/#/letter", "http://www.nj12345.gov.cn.test/#/letter"),
    ("http://x_y.gov.cn./", "http://x_y.gov.cn./"),
])
def test_real_websites_are_kept(tmp_path, url, website):
    assert load_registry(one_row(tmp_path, website=url))[0].website == website


def test_text_fields_have_limits_and_no_hidden_characters(tmp_path):
    rows = [
        {"hotline_id": "long", "name": "南" * 5000, "province": "江苏省", "city": "南京", "weibo": "w" * 501},
        {"hotline_id": "nul", "name": "南京\x0012345", "province": "江苏省", "city": "南京"},
        {"hotline_id": "lf", "name": "南京\n12345", "province": "江苏省", "city": "南京"},  # a quoted cell
        {"hotline_id": "rlo", "name": "南京12345", "province": "江苏省\u202e", "city": "南京"},
        {"hotline_id": "zw", "name": "南京12345", "province": "江苏省", "city": "南\u200b京"},
        {"hotline_id": "edge", "name": "南" * 100, "province": "江苏省", "city": "南京", "tier": "t" * 101},
    ]
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes(rows, ["hotline_id", "name", "province", "city", "tier", "weibo"]))
    assert problems(path) == [
        "line 2: field 'name': too long: at most 100 characters, this one has 5,000",
        "line 2: field 'weibo': too long: at most 500 characters, this one has 501",
        "line 3: field 'name': contains a control or invisible character (U+0000 at position 3); "
        "retype the value as plain text",
        "line 4: field 'name': contains a control or invisible character (U+000A at position 3); "
        "retype the value as plain text",
        "line 6: field 'province': contains a control or invisible character (U+202E at position 4); "
        "retype the value as plain text",  # the row starts on line 6: the one before holds a line break
        "line 7: field 'city': contains a control or invisible character (U+200B at position 2); "
        "retype the value as plain text",
        "line 8: field 'tier': too long: at most 100 characters, this one has 101",
    ]


def test_a_cell_too_big_for_csv_is_a_problem_not_a_traceback(tmp_path):
    # csv's limit is process-wide, and a library may raise it (frictionless does): set it here.
    before = csv.field_size_limit(1000)
    try:
        path = write(tmp_path, "r.csv", HEADER + "a,甲,江苏省,南京,,\nb," + "乙" * 2000 + ",江苏省,南京,,\n")
        assert problems(path) == ["line 3: not a readable CSV row (field larger than field limit (1000))"]
    finally:
        csv.field_size_limit(before)


def test_a_registry_we_wrote_reads_back_as_it_was(tmp_path):
    """csv_bytes writes '=1+1' as "'=1+1" for spreadsheets; the registry reads the value."""
    path = one_row(tmp_path, name="=1+1", city="@SUM(A1)", tier="-1.5", merge_mode="+cmd")
    assert "'=1+1" in path.read_text(encoding="utf-8")
    h = load_registry(path)[0]
    assert (h.name, h.city, h.tier, h.merge_mode) == ("=1+1", "@SUM(A1)", "-1.5", "+cmd")


def test_yaml_rows_follow_the_same_rules(tmp_path):
    path = write(tmp_path, "r.yaml", "- {hotline_id: a, name: 甲, province: 江苏省, city: 南京, h5: 'javascript:alert(1)'}\n"
                                     "- {hotline_id: b, name: \"乙\\0\", province: 江苏省, city: 南京}\n")
    found = problems(path)
    assert found[0].startswith("line 1: field 'h5': not an http(s) URL")
    assert found[1].startswith("line 2: field 'name': contains a control or invisible character (U+0000")
