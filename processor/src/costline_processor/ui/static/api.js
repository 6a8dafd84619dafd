// The page's one way to the server: GET a JSON answer of /api/..., or throw its error sentence.

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) value.forEach((v) => search.append(key, v));
    else if (value !== undefined && value !== null && value !== "") search.append(key, value);
  }
  return search.toString();
}

export async function getJSON(path, params = {}) {
  const qs = query(params);
  const response = await fetch(qs ? `${path}?${qs}` : path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    window.location.assign("/login");
    throw new Error("sign in first");
  }
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    const err = new Error(body.error || `${response.status} ${response.statusText}`);
    err.status = response.status; // 400: the question cannot be answered (the CLI's exit 2 sentence)
    throw err;
  }
  return body;
}
