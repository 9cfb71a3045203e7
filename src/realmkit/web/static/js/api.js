// The login node's HTTP API (src/realmkit/nodes/login/api.py), same origin.

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class Api {
  constructor(base = "") {
    this.base = base;
    this.session = null; // {account_id, token, expires_in, refresh}
  }

  async call(method, path, body, { auth = false } = {}) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.session) headers.Authorization = `Bearer ${this.session.token}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (exc) {
      throw new ApiError("NETWORK", String(exc), 0);
    }
    if (response.status === 204) return null;
    let data = null;
    if ((response.headers.get("Content-Type") || "").startsWith("application/json")) {
      data = await response.json();
    }
    if (!response.ok) {
      const error = data && data.error;
      if (error) throw new ApiError(error.code, error.message, response.status);
      throw new ApiError("HTTP", `HTTP ${response.status}`, response.status);
    }
    return data;
  }

  async register(username, password) {
    this.session = await this.call("POST", "/api/register", { username, password });
    return this.session;
  }

  async login(username, password) {
    this.session = await this.call("POST", "/api/login", { username, password });
    return this.session;
  }

  realms() {
    return this.call("GET", "/api/realms");
  }

  characters(realmId) {
    return this.call("GET", `/api/realms/${realmId}/characters`, undefined, { auth: true });
  }

  createCharacter(realmId, name) {
    return this.call("POST", `/api/realms/${realmId}/characters`, { name }, { auth: true });
  }

  ticket(characterId) {
    return this.call("POST", `/api/characters/${characterId}/ticket`, undefined, { auth: true });
  }

  /** The realm's content (maps, creatures, items, spells); null where not served. */
  async content(realmId) {
    try {
      return await this.call("GET", `/api/realms/${realmId}/content`);
    } catch (exc) {
      if (exc instanceof ApiError) return null;
      throw exc;
    }
  }
}
