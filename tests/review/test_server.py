import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from benchbox.review.server import MAX_BODY_BYTES, serve
from benchbox.review.session import open_session
from benchbox.review.store import MAX_NOTE_CHARS, TagStore

REPO = Path(__file__).resolve().parents[2]


def request(server, method, path, body=None, token=True, raw_body=None, headers=None):
    """Send a raw request (no path normalisation); return (status, parsed JSON or bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    if token:
        path += ("&" if "?" in path else "?") + f"t={server.token}"
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    reply = conn.getresponse()
    payload = reply.read()
    conn.close()
    if reply.getheader("Content-Type", "").startswith("application/json"):
        payload = json.loads(payload)
    return reply.status, payload


@pytest.fixture
def server(fake_run):
    srv = serve(open_session(fake_run, rater="alice", include_real=2, seed=5), port=0)
    yield srv
    srv.stop()


def test_page_state_and_media(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and b"<audio" in page and b"http://" not in page.replace(b"http://www.w3.org", b"")
    status, state = request(server, "GET", "/api/state")
    assert status == 200 and state["total"] == 10 and state["resume"] == 0 and state["rater"] == "alice"
    blob = json.dumps(state)
    for secret in ("sashimi", "wavenet", "samples", "real", "prime", ".wav"):
        assert secret not in blob.replace('"tags"', "")  # nothing in the state reveals the source
    cid = state["clips"][0]["id"]
    status, wav = request(server, "GET", f"/clip/{cid}.wav")
    assert status == 200 and wav[:4] == b"RIFF"
    status, png = request(server, "GET", f"/spec/{cid}.png")
    assert status == 200 and png[:4] == b"\x89PNG"


def test_token_is_required(server):
    for path in ("/", "/api/state", "/clip/0123456789abcdef.wav"):
        assert request(server, "GET", path, token=False)[0] == 403
        assert request(server, "GET", path + "?t=wrong", token=False)[0] == 403
    assert request(server, "POST", "/api/tag", {"id": "x", "tag": "useful"}, token=False)[0] == 403
    # the header works as well as the query parameter
    assert request(server, "GET", "/api/state", token=False, headers={"X-Review-Token": server.token})[0] == 200


def test_path_traversal_and_unknown_ids_are_404(server, fake_run):
    cid = request(server, "GET", "/api/state")[1]["clips"][0]["id"]
    for path in (
        "/clip/../../etc/passwd",
        "/clip/%2e%2e/%2e%2e/etc/passwd",
        "/clip/..%2f..%2fetc%2fpasswd",
        "/../../../etc/passwd",
        f"/clip/{cid}.wav/../../tags.sqlite",
        "/tags.sqlite",
        "/samples/manifest.csv",
        "/clip/samples%2fbest%2fprime0%2fclip_0000.wav",
        "/clip/0123456789abcdef.wav",  # well-formed but not in the review set
        f"/clip/{cid}.png",
        f"/spec/{cid}.wav",
    ):
        status, body = request(server, "GET", path)
        assert status == 404, path
        assert b"root:" not in (body if isinstance(body, bytes) else json.dumps(body).encode())


def test_bad_posts_are_4xx_and_store_nothing(server):
    cid = request(server, "GET", "/api/state")[1]["clips"][0]["id"]
    cases = [
        ({"id": "feedfacefeedface", "tag": "useful"}, 404),
        ({"id": cid, "tag": "great"}, 400),
        ({"id": cid, "tag": "useful", "reasons": ["ugly"]}, 400),
        ({"id": cid, "tag": "useful", "reasons": "silent"}, 400),
        ({"id": cid, "tag": "useful", "note": "x" * (MAX_NOTE_CHARS + 1)}, 413),
        ({"id": cid, "tag": "useful", "rater": "mallory"}, 400),
        ({"id": 7, "tag": "useful"}, 400),
        (["not", "an", "object"], 400),
    ]
    for body, expected in cases:
        assert request(server, "POST", "/api/tag", body)[0] == expected, body
    assert request(server, "POST", "/api/tag", raw_body=b"{not json")[0] == 400
    assert request(server, "POST", "/api/tag", raw_body=b"\xff\xfe")[0] == 400
    assert request(server, "POST", "/api/tag", raw_body=b"x" * (MAX_BODY_BYTES + 1))[0] == 413
    assert request(server, "POST", "/api/elsewhere", {"id": cid, "tag": "useful"})[0] == 404
    assert server.session.store.counts()["tag_history"] == 0
    status, reply = request(server, "POST", "/api/tag", {"id": cid, "tag": "useful", "reasons": ["click"], "note": "ok"})
    assert status == 200 and reply["ok"] and reply["version"] == 1
    assert server.errors == []


def test_two_raters_at_once(fake_run):
    servers = [serve(open_session(fake_run, rater=r, seed=1)) for r in ("alice", "bob")]
    try:
        states = [request(s, "GET", "/api/state")[1] for s in servers]
        assert [c["id"] for c in states[0]["clips"]] != [c["id"] for c in states[1]["clips"]]  # own order each
        failures = []

        def tag_all(srv, state, tag):
            for c in state["clips"]:
                status, _ = request(srv, "POST", "/api/tag", {"id": c["id"], "tag": tag})
                if status != 200:
                    failures.append(status)

        threads = [threading.Thread(target=tag_all, args=(s, st, t)) for s, st, t in zip(servers, states, ("useful", "not_useful"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        frame = TagStore(fake_run / "tags.sqlite", create=False).tags_frame()
        assert len(frame) == 16
        assert set(frame.loc[frame["rater"] == "alice", "tag"]) == {"useful"}
        assert set(frame.loc[frame["rater"] == "bob", "tag"]) == {"not_useful"}
        assert all(request(s, "GET", "/api/state")[1]["resume"] == 8 for s in servers)
    finally:
        for s in servers:
            s.stop()


def _start_cli_server(run_dir: Path) -> tuple[subprocess.Popen, str, str]:
    code = "from benchbox.cli.main import main; main()"
    args = [sys.executable, "-c", code, "tag", str(run_dir), "--rater", "alice", "--no-browser", "--quiet", "--seed", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    assert "http://127.0.0.1:" in line, line + proc.stderr.read()
    url = line.split()[-1]
    port = url.split(":")[2].split("/")[0]
    return proc, port, url.split("t=")[1]


class _Remote:
    def __init__(self, port, token):
        self.port, self.token = int(port), token


@pytest.mark.slow
def test_kill_9_between_tags_loses_nothing(fake_run):
    proc, port, token = _start_cli_server(fake_run)
    try:
        remote = _Remote(port, token)
        state = request(remote, "GET", "/api/state")[1]
        first = state["clips"][:3]
        for c, tag in zip(first, ("useful", "not_useful", "skip")):
            assert request(remote, "POST", "/api/tag", {"id": c["id"], "tag": tag, "reasons": ["noise"] if tag == "not_useful" else []})[0] == 200
        assert request(remote, "POST", "/api/tag", {"id": first[0]["id"], "tag": "not_useful"})[0] == 200  # a change of mind
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    store = TagStore(fake_run / "tags.sqlite", create=False)
    current = store.tags_frame().sort_values("position")
    assert current["tag"].tolist() == ["not_useful", "not_useful", "skip"]
    assert current["reasons"].tolist() == [[], ["noise"], []]
    assert store.counts()["tag_history"] == 4
    # reopening resumes after the last tagged clip, in the same order
    session = open_session(fake_run, rater="alice", seed=4)
    assert session.state()["resume"] == 3
    assert [c["id"] for c in session.state()["clips"]] == [c["id"] for c in state["clips"]]


def test_page_and_media_describe_the_clips_on_disk_now(fake_run):
    import numpy as np

    from benchbox.audio import write_wav

    srv = serve(open_session(fake_run, rater="alice"), port=0)
    try:
        _, state = request(srv, "GET", "/api/state")
        ids = [c["id"] for c in state["clips"]]
        status, old_wav = request(srv, "GET", f"/clip/{ids[0]}.wav")
        assert status == 200
        clip = srv.session.clip(ids[0])
        tone = (0.3 * np.sin(np.arange(8000) * 0.05)).astype(np.float32)
        write_wav(clip.path, tone)  # regenerated in place: other audio, same file
        assert request(srv, "GET", f"/clip/{ids[0]}.wav")[0] == 404  # was 200 with the old audio, from the cache
        assert request(srv, "GET", f"/spec/{ids[0]}.png")[0] == 404
        _, state = request(srv, "GET", "/api/state")
        now = [c["id"] for c in state["clips"]]
        assert ids[0] not in now and len(set(now) - set(ids)) == 1 and state["total"] == len(ids)
        (new,) = set(now) - set(ids)
        status, new_wav = request(srv, "GET", f"/clip/{new}.wav")
        assert status == 200 and new_wav != old_wav
    finally:
        srv.stop()


def test_a_clip_repeated_across_groups_counts_for_each_and_is_served_while_a_copy_holds_it(fake_run):
    import shutil

    from benchbox.audio import write_wav
    from benchbox.review.stats import group_rates

    first, second = sorted((fake_run / "samples" / "best").glob("prime*/clip_0000.wav"))  # two groups (prime_ms 0, 100)
    shutil.copyfile(first, second)  # the same audio in both groups
    session = open_session(fake_run, rater="alice")
    (clip,) = [c for c in session.review_set.clips if len(c.all_copies) == 2]
    cid = session.store.opaque_id(clip.sha256)
    session.tag(cid, "useful")
    rates = group_rates(fake_run)
    assert sorted(rates.loc[rates["n_human"] > 0, "prime_ms"].tolist()) == [0, 100]  # was: only the first group
    write_wav(first, (0.1 * np.ones(4000)).astype("float32"))  # one copy regenerated
    srv = serve(session, port=0)
    try:
        assert request(srv, "GET", f"/clip/{cid}.wav")[0] == 200  # served from the copy that still holds it
    finally:
        srv.stop()
    rates = group_rates(fake_run)
    assert rates.loc[rates["n_human"] > 0, "prime_ms"].tolist() == [100]  # the changed copy's tag is stale


def test_a_bad_port_or_host_is_one_error_naming_the_option(fake_run):
    """--port 99999 raised a bare OverflowError (a traceback); an unknown --host was told to pick another --port."""
    from benchbox.errors import ReviewError
    from benchbox.review.server import ReviewServer

    session = open_session(fake_run, rater="alice")
    for port in (99999, -1):
        with pytest.raises(ReviewError, match=f"--port {port} is not a port number"):
            ReviewServer(session, port=port)
    with pytest.raises(ReviewError) as caught:
        ReviewServer(session, host="256.1.1.1")
    assert "--host" in caught.value.hint
