"""Drive the inkit-mock with the official Inkit Python SDK (PyPI ``inkit==1.0.5``).

The only thing changed in the SDK is its host: ``inkit.client.HOST``, a
module-level string that ``Client.send`` passes to ``urljoin(HOST, path)`` on
every request, where ``path`` is relative (``"template"``,
``"render/{id}/pdf"``, ...). Two host spellings are exercised:

* ``<base>/v1/`` (trailing slash keeps ``/v1``): used by most checks;
* ``<base>`` (bare origin, no ``/v1``): used by the PDF, download and folder
  checks.

The API key is set the SDK's documented way, ``inkit.api_token = ...``.

Environment:
    INKIT_BASE_URL    mock origin, e.g. http://127.0.0.1:8080
    INKIT_TOKEN       API token the mock accepts
    INKIT_TOKEN_NAME  name the mock reports in ``created_by.name`` for that token

Start the mock with a short processing delay so the SDK's 404 retry on
``/render/{id}/pdf`` and ``/download/{id}`` is exercised, e.g.::

    target/debug/tapink inkit --addr 127.0.0.1:0 --in-memory \
        --token py=secret-token --processing-delay-ms 300

The checks expect a fresh (empty) mock: some look for their own records on the
first page of a list.

Prints one line per check (``ok   <name>`` or ``FAIL <name>: <why>``), then
``N passed, N failed``. Exit status: 0 all passed, 1 a check failed, 2 the SDK
cannot be imported or the environment is incomplete.
"""

import contextlib
import os
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime

# --- what the checks send and expect ------------------------------------------

TEMPLATE_HTML = (
    "<html><body><h1>Hello {{Name}}</h1><p>{{email}}</p>"
    "<p>{{phone number}}</p></body></html>"
)
MERGE_VARIABLES = ["Name", "email", "phone number"]
MERGE_PARAMETERS = {
    "Name": "Ada",
    "email": "ada@example.com",
    "phone number": "+15551234567",
}
RENDER_ID_RE = re.compile(r"^rend_[0-9A-Za-z]{22}$")
DOCUMENT_ID_RE = re.compile(r"^doc_[0-9A-Za-z]{22}$")
PAGINATION_KEYS = {"page_size", "current_page", "next_page", "prev_page", "page_count", "total_count"}
ERROR_KEYS = {"error", "code", "type", "field"}
BATCH_COUNTER_KEYS = {"count", "completed", "failed", "in_progress"}

# The SDK, filled in by load_sdk() so that a missing SDK gives exit status 2.
inkit = None
InkitResponseException = None


def fatal(message):
    """Exit 2: the check could not run at all."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def load_sdk():
    """Import the SDK or exit 2 with an installation hint."""
    global inkit, InkitResponseException
    try:
        import inkit as sdk
        import inkit.client  # noqa: F401  (HOST lives here)
        from inkit.exceptions import InkitResponseException as response_exception
    except ImportError as e:
        fatal(
            f"the Inkit SDK is not importable ({e}); "
            "install it with: pip install -r tests/python/requirements.txt"
        )
    inkit, InkitResponseException = sdk, response_exception


# --- small helpers -------------------------------------------------------------


class CheckFailed(AssertionError):
    """A check's expectation did not hold."""


def expect(condition, why):
    if not condition:
        raise CheckFailed(why)


def expect_eq(actual, expected, what):
    expect(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


def json_data(resp):
    """The parsed body of a JSON response; the SDK only parses exact `application/json`."""
    expect_eq(resp.content_type, "application/json", "Content-Type")
    expect(resp.data is not None, f"empty JSON body (status {resp.status_code})")
    return resp.data


def list_items(resp):
    """Items of a list response, after checking the list envelope."""
    data = json_data(resp)
    expect(isinstance(data.get("items"), list), f"no items list in {data!r}")
    metadata = data.get("metadata") or {}
    pagination = metadata.get("pagination") or {}
    missing = PAGINATION_KEYS - pagination.keys()
    expect(not missing, f"metadata.pagination lacks {sorted(missing)}")
    expect({"key", "order"} <= (metadata.get("sort") or {}).keys(), "metadata.sort lacks key/order")
    return data["items"]


def ids(items):
    return [item.get("id") for item in items]


def expect_pdf(resp, what):
    expect(resp.content.startswith(b"%PDF-"), f"{what} is not a PDF: {resp.content[:40]!r}")


def expect_api_error(call, status):
    """Run `call`, expect InkitResponseException with `status`; return the error body."""
    try:
        resp = call()
    except InkitResponseException as e:
        expect_eq(e.response.status_code, status, "HTTP status")
        body = json_data(e.response)
        missing = ERROR_KEYS - body.keys()
        expect(not missing, f"error body lacks {sorted(missing)}: {body!r}")
        expect_eq(body.code, status, "error body code")
        expect(isinstance(body.error, str) and body.error, f"empty error message: {body!r}")
        return body
    raise CheckFailed(f"expected HTTP {status}, call succeeded with {resp.status_code}")


def parse_time(value):
    return datetime.fromisoformat(value)


@contextlib.contextmanager
def api_token(token):
    """Temporarily use another API token."""
    saved, inkit.api_token = inkit.api_token, token
    try:
        yield
    finally:
        inkit.api_token = saved


# --- state shared between checks ---------------------------------------------


@dataclass
class State:
    token_name: str
    template_name: str
    template_id: str | None = None
    render_id: str | None = None
    document_id: str | None = None
    second_render_id: str | None = None
    batch_id: str | None = None

    def need(self, field):
        value = getattr(self, field)
        if value is None:
            raise CheckFailed(f"skipped: no {field} (an earlier check failed)")
        return value


# --- the checks ----------------------------------------------------------------


def template_create(s):
    resp = inkit.Template.create(
        name=s.template_name,
        source="html",
        file=TEMPLATE_HTML,
        data={"width": 8.5, "height": 11, "unit": "in"},
    )
    t = json_data(resp)
    expect(str(t.get("id", "")).startswith("tmpl_"), f"id {t.get('id')!r} lacks tmpl_")
    expect_eq(t.get("merge_variables"), MERGE_VARIABLES, "merge_variables")
    expect_eq(t.get("name"), s.template_name, "name")
    expect_eq(t.get("source"), "html", "source")
    expect_eq(t.get("version"), 1, "version")
    expect(t.get("created_at") and t.get("updated_at"), "created_at/updated_at missing")
    s.template_id = t.id


def template_get(s):
    t = json_data(inkit.Template.get(s.need("template_id")))
    expect_eq(t.get("id"), s.template_id, "id")
    expect_eq(t.get("html"), TEMPLATE_HTML, "html")


def template_list(s):
    resp = inkit.Template.list(page=1, page_size=10)
    items = list_items(resp)
    expect(s.need("template_id") in ids(items), f"{s.template_id} not in {ids(items)}")
    pagination = resp.data.metadata.pagination
    expect_eq(pagination.page_size, 10, "pagination.page_size")
    expect_eq(pagination.current_page, 1, "pagination.current_page")


def template_list_search(s):
    items = list_items(inkit.Template.list(search=s.template_name))
    expect_eq(ids(items), [s.need("template_id")], "ids matching search")


def render_create(s):
    r = json_data(inkit.Render.create(
        template_id=s.need("template_id"),
        merge_parameters=MERGE_PARAMETERS,
        name="first",
        description="py sdk",
        destinations={"inkit_storage": {"name": "first"}},
    ))
    expect(RENDER_ID_RE.match(str(r.get("id"))), f"render id {r.get('id')!r}")
    expect(DOCUMENT_ID_RE.match(str(r.get("document_id"))), f"document_id {r.get('document_id')!r}")
    s.render_id, s.document_id = r.id, r.document_id


def render_get(s):
    r = json_data(inkit.Render.get(s.need("render_id")))
    expect_eq(r.get("id"), s.render_id, "id")
    expect(r.get("status") in ("in_progress", "completed"), f"status {r.get('status')!r}")
    expect_eq(r.get("template_id"), s.template_id, "template_id")
    expect_eq(r.get("merge_parameters"), MERGE_PARAMETERS, "merge_parameters")


def render_list_newest_first(s):
    first = s.need("render_id")
    second = json_data(inkit.Render.create(
        template_id=s.need("template_id"), merge_parameters=MERGE_PARAMETERS, name="second",
    ))
    s.second_render_id = second.id
    items = list_items(inkit.Render.list(page_size=5, sort="-created_at"))
    expect(len(items) <= 5, f"page_size=5 returned {len(items)} items")
    times = [parse_time(item.created_at) for item in items]
    expect(times == sorted(times, reverse=True), f"created_at not descending: {times}")
    listed = ids(items)
    expect(first in listed and second.id in listed, f"{first}/{second.id} not in {listed}")
    by_id = dict(zip(listed, times))
    if by_id[second.id] != by_id[first]:  # equal timestamps may tie either way
        expect(listed.index(second.id) < listed.index(first), f"newer render not first: {listed}")


def render_list_data_id(s):
    items = list_items(inkit.Render.list(data_id=s.need("render_id")))  # sent as data-id
    expect_eq(ids(items), [s.render_id], "ids for data-id filter")


def render_get_pdf(s):
    # The SDK retries this path's 404 (render in progress) 15 x 2 s.
    expect_pdf(inkit.Render.get_pdf(s.need("render_id")), "render PDF")


def render_get_pdf_page(s):
    expect_pdf(inkit.Render.get_pdf(s.need("render_id"), page=1), "render PDF page 1")


def batch_create(s):
    b = json_data(inkit.Batch.create(
        template_id=s.need("template_id"),
        name="py batch",
        renders=[
            {"merge_parameters": MERGE_PARAMETERS, "name": "batch one"},
            {"merge_parameters": dict(MERGE_PARAMETERS, Name="Grace"), "name": "batch two"},
        ],
    ))
    expect(str(b.get("id", "")).startswith("rb_"), f"batch id {b.get('id')!r} lacks rb_")
    s.batch_id = b.id


def batch_get(s):
    b = json_data(inkit.Batch.get(s.need("batch_id")))
    expect_eq(b.get("id"), s.batch_id, "id")
    expect_eq(b.get("total"), 2, "total")
    storage = (b.get("destinations") or {}).get("inkit_storage") or {}
    missing = BATCH_COUNTER_KEYS - storage.keys()
    expect(not missing, f"destinations.inkit_storage lacks {sorted(missing)}: {storage!r}")


def batch_list(s):
    items = list_items(inkit.Batch.list())
    expect(s.need("batch_id") in ids(items), f"{s.batch_id} not in {ids(items)}")


def document_list_data_id(s):
    items = list_items(inkit.Document.list(data_id=s.need("render_id")))  # sent as data-id
    expect_eq(len(items), 1, "number of documents for the render")
    expect_eq(items[0].get("render_id"), s.render_id, "render_id")
    expect_eq(items[0].get("id"), s.need("document_id"), "document id (render's document_id)")


def document_get(s):
    d = json_data(inkit.Document.get(s.need("document_id")))
    expect_eq(d.get("id"), s.document_id, "id")
    expect_eq(d.get("render_id"), s.render_id, "render_id")
    expect_eq((d.get("created_by") or {}).get("name"), s.token_name, "created_by.name")


def document_download(s):
    # The SDK retries this path's 404 (render in progress) 15 x 2 s.
    expect_pdf(inkit.Document.download(s.need("document_id")), "downloaded document")


def document_delete(s):
    resp = inkit.Document.delete(s.need("document_id"))
    expect_eq(resp.status_code, 204, "HTTP status")
    expect_eq(resp.content_type, "application/json", "Content-Type")


def document_get_after_delete(s):
    expect_api_error(lambda: inkit.Document.get(s.need("document_id")), 404)


def folder_list(s):
    items = list_items(inkit.Folder.list())
    expect(items, "no folders")
    expect(all(str(i).startswith("fold_") for i in ids(items)), f"folder ids {ids(items)}")


def folder_list_data_description(s):
    list_items(inkit.Folder.list(data_description="x"))  # sent as data-description


def error_bad_token(s):
    with api_token("not-a-valid-token"):
        expect_api_error(lambda: inkit.Folder.list(), 401)


def error_render_not_found(s):
    expect_api_error(lambda: inkit.Render.get("rend_doesnotexist0000000000"), 404)


def error_missing_template_id(s):
    body = expect_api_error(lambda: inkit.Render.create(merge_parameters={}), 422)
    expect_eq(body.field, "template_id", "error field")


# (name, host style, check). "v1" = <base>/v1/, "bare" = <base>.
CHECKS = [
    ("template.create", "v1", template_create),
    ("template.get", "v1", template_get),
    ("template.list", "v1", template_list),
    ("template.list search", "v1", template_list_search),
    ("render.create", "v1", render_create),
    ("render.get", "v1", render_get),
    ("render.list sort=-created_at", "v1", render_list_newest_first),
    ("render.list data_id", "v1", render_list_data_id),
    ("render.get_pdf (bare host)", "bare", render_get_pdf),
    ("render.get_pdf page=1", "v1", render_get_pdf_page),
    ("batch.create", "v1", batch_create),
    ("batch.get", "v1", batch_get),
    ("batch.list", "v1", batch_list),
    ("document.list data_id", "v1", document_list_data_id),
    ("document.get", "v1", document_get),
    ("document.download (bare host)", "bare", document_download),
    ("document.delete", "v1", document_delete),
    ("document.get after delete", "v1", document_get_after_delete),
    ("folder.list (bare host)", "bare", folder_list),
    ("folder.list data_description", "v1", folder_list_data_description),
    ("error: bad token -> 401", "v1", error_bad_token),
    ("error: unknown render -> 404", "bare", error_render_not_found),
    ("error: missing template_id -> 422", "v1", error_missing_template_id),
]


def describe(exc):
    if isinstance(exc, CheckFailed):
        return str(exc)
    if isinstance(exc, InkitResponseException):
        return f"{exc} {exc.response.text[:200]!r}"
    return f"{type(exc).__name__}: {exc}"


def run(base_url, state):
    hosts = {"v1": base_url + "/v1/", "bare": base_url}
    passed = failed = 0
    for name, host, check in CHECKS:
        inkit.client.HOST = hosts[host]  # the only SDK setting changed
        try:
            check(state)
        except Exception as exc:  # one failing check must not stop the others
            failed += 1
            print(f"FAIL {name}: {describe(exc)}", flush=True)
        else:
            passed += 1
            print(f"ok   {name}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return failed


def main():
    env = {key: os.environ.get(key, "") for key in ("INKIT_BASE_URL", "INKIT_TOKEN", "INKIT_TOKEN_NAME")}
    unset = [key for key, value in env.items() if not value]
    if unset:
        fatal(f"set {', '.join(unset)} (see the module docstring)")
    load_sdk()
    inkit.api_token = env["INKIT_TOKEN"]
    state = State(
        token_name=env["INKIT_TOKEN_NAME"],
        template_name=f"py-sdk-{uuid.uuid4().hex[:10]}",
    )
    failed = run(env["INKIT_BASE_URL"].rstrip("/"), state)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
