#!/bin/sh
# Runs the three signature-verification snippets of docs/WEBHOOKS.md (between
# "<!-- snippet:LANG begin -->" and "<!-- snippet:LANG end -->") against the
# Standard Webhooks published test vector, and checks that each accepts it,
# accepts it beside a bogus signature (a rotation header), and refuses a
# tampered body, a wrong signature and a stale timestamp.
#   sh tests/e2e/test_webhook_docs.sh [docs/WEBHOOKS.md]
# One line per language: "python: ok (5 cases)", "node: SKIPPED (...)", or
# "LANG: FAIL ..."; exit status 1 when any ran and failed.
set -u
doc=${1:-docs/WEBHOOKS.md}
tmp=$(mktemp -d /tmp/facerec-whdocs-XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

SECRET='whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
ID='msg_p5jXN8AQM9LWM0D4loKWxJek'
TS=1614265330
BODY='{"test": 2432232314}'
SIG='v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
BADSIG='v1,g1hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
# The cases: signature header | body | now | expected (1 valid, 0 not)
EXPECT='1 1 0 0 0'

# snippet LANG FILE: the code block between the markers, without the fences
snippet() {
    sed -n "/<!-- snippet:$1 begin -->/,/<!-- snippet:$1 end -->/p" "$doc" |
        sed -e '1d' -e '$d' -e '/^```/d' > "$2"
    if [ ! -s "$2" ]; then
        echo "$1: FAIL (no snippet \"$1\" between markers in $doc)"
        status=1
        return 1
    fi
}

report() {   # lang, what the driver printed
    if [ "$2" = "$EXPECT" ]; then
        echo "$1: ok (5 cases)"
    else
        echo "$1: FAIL: got \"$2\", expected \"$EXPECT\" (valid, valid beside a bogus v1, tampered body, wrong signature, stale timestamp)"
        status=1
    fi
}

# ---- Python
if snippet python "$tmp/verify.py"; then
    cat >> "$tmp/verify.py" <<EOF

def _case(sig, body, now):
    h = {"webhook-id": "$ID", "webhook-timestamp": "$TS", "webhook-signature": sig}
    return "1" if verify_webhook("$SECRET", h, body, now=now) else "0"

_b = b'$BODY'
print(" ".join([_case("$SIG", _b, $TS), _case("v1,Zm9v $SIG", _b, $TS + 299),
                _case("$SIG", _b.replace(b"4}", b"5}"), $TS), _case("$BADSIG", _b, $TS),
                _case("$SIG", _b, $TS + 301)]))
EOF
    report python "$(python3 "$tmp/verify.py" 2>&1)"
fi

# ---- Node
if snippet node "$tmp/verify.js"; then
    if command -v node > /dev/null 2>&1; then
        cat >> "$tmp/verify.js" <<EOF

const _case = (sig, body, now) => verifyWebhook("$SECRET",
  { "webhook-id": "$ID", "webhook-timestamp": "$TS", "webhook-signature": sig },
  Buffer.from(body), now) ? "1" : "0";
const _b = '$BODY';
console.log([_case("$SIG", _b, $TS), _case("v1,Zm9v $SIG", _b, $TS + 299),
  _case("$SIG", _b.replace("4}", "5}"), $TS), _case("$BADSIG", _b, $TS),
  _case("$SIG", _b, $TS + 301)].join(" "));
EOF
        report node "$(node "$tmp/verify.js" 2>&1)"
    else
        echo "node: SKIPPED (node is not installed: the Node snippet was not run)"
    fi
fi

# ---- shell (openssl + base64)
if snippet shell "$tmp/verify.sh"; then
    printf '%s' "$BODY" > "$tmp/body"
    printf '%s' "$BODY" | sed 's/4}/5}/' > "$tmp/tampered"
    sh_case() {   # sig, body file, now
        if NOW=$3 WEBHOOK_SECRET=$SECRET sh "$tmp/verify.sh" "$ID" "$TS" "$1" "$2" 2> "$tmp/err"; then
            printf 1
        else
            printf 0
        fi
    }
    got="$(sh_case "$SIG" "$tmp/body" $TS) $(sh_case "v1,Zm9v $SIG" "$tmp/body" $((TS + 299)))"
    got="$got $(sh_case "$SIG" "$tmp/tampered" $TS) $(sh_case "$BADSIG" "$tmp/body" $TS)"
    got="$got $(sh_case "$SIG" "$tmp/body" $((TS + 301)))"
    report shell "$got"
    [ "$got" = "$EXPECT" ] || sed 's/^/    stderr: /' "$tmp/err"
fi

exit $status
