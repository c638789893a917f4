from pathlib import Path

import pytest

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
