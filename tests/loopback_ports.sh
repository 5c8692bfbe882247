# Loopback ports for the services the test scripts start (sourced by tests/run.sh and tests/cost.sh).

# A port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until something listens on 127.0.0.1:$1 (at most 5 minutes: a first start may compile).
wait_port() {
    for _ in $(seq 1 600); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; then return 0; fi
        sleep 0.5
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}
