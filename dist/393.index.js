export const id = 393;
export const ids = [393];
export const modules = {

/***/ 34393:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   downloadDump: () => (/* binding */ downloadDump),
/* harmony export */   uploadDump: () => (/* binding */ uploadDump)
/* harmony export */ });
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(51455);
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_fs_promises__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(76760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_path__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _actions_artifact__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(20584);



/** Uploads every file under `dir` as one artifact, paths kept relative to `dir`. */
async function uploadDump(dir, options) {
    if (!process.env.ACTIONS_RUNTIME_TOKEN) {
        return {
            skipped: true,
            reason: `not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN): the dump stays at ${dir}`
        };
    }
    const root = node_path__WEBPACK_IMPORTED_MODULE_1__.resolve(dir);
    const files = await listFiles(root);
    if (files.length === 0)
        throw new Error(`dump folder ${root} has no files to upload`);
    let response;
    try {
        response = await new _actions_artifact__WEBPACK_IMPORTED_MODULE_2__/* .DefaultArtifactClient */ .t9().uploadArtifact(options.name, files, root, {
            // pg_dump already compressed every table file with zstd; deflating again only costs CPU.
            compressionLevel: 0,
            retentionDays: options.retentionDays
        });
    }
    catch (error) {
        throw new Error(`uploading artifact "${options.name}" failed: ${firstLine(error)}`);
    }
    const { id, size, digest } = response;
    if (id === undefined || size === undefined || !digest) {
        throw new Error(`uploading artifact "${options.name}" failed: the artifact service returned no id, size or digest`);
    }
    return { id, name: options.name, size, digest: `sha256:${digest}`, url: artifactUrl(id) };
}
/** Finds the dump artifact by name and extracts it into `destination`; returns that folder. */
async function downloadDump(options) {
    const { name } = options;
    const find = findOptions(options);
    const where = find
        ? `run ${options.runId} of ${find.findBy?.repositoryOwner}/${find.findBy?.repositoryName}`
        : 'this run';
    if (!find && !process.env.ACTIONS_RUNTIME_TOKEN) {
        throw new Error(`cannot look up artifact "${name}": not running in GitHub Actions (no ACTIONS_RUNTIME_TOKEN); pass a run id and a token to read it from a workflow run`);
    }
    const client = new _actions_artifact__WEBPACK_IMPORTED_MODULE_2__/* .DefaultArtifactClient */ .t9();
    let artifact;
    try {
        ;
        ({ artifact } = await client.getArtifact(name, find));
    }
    catch (error) {
        if (error instanceof Error && error.name === 'ArtifactNotFoundError') {
            const hint = find
                ? 'check the name and run id, and that the artifact has not expired'
                : 'upload it earlier in this run under that name, or pass the run id and a token to read it from another run';
            throw new Error(`artifact "${name}" not found in ${where}; ${hint}`);
        }
        throw new Error(`looking up artifact "${name}" in ${where} failed: ${firstLine(error)}`);
    }
    const destination = node_path__WEBPACK_IMPORTED_MODULE_1__.resolve(options.destination);
    let result;
    try {
        result = await client.downloadArtifact(artifact.id, { ...find, path: destination, expectedHash: artifact.digest });
    }
    catch (error) {
        throw new Error(`downloading artifact "${name}" from ${where} failed: ${firstLine(error)}`);
    }
    // The library only reports a mismatch; a damaged dump must not be restored.
    if (result.digestMismatch) {
        throw new Error(`artifact "${name}" downloaded with a different sha256 digest than ${artifact.digest}; it is damaged`);
    }
    return destination;
}
function findOptions(options) {
    if (options.runId === undefined)
        return undefined;
    const repository = options.repository ?? process.env.GITHUB_REPOSITORY;
    const [owner, repo, ...rest] = repository?.split('/') ?? [];
    if (!owner || !repo || rest.length > 0) {
        throw new Error(`cannot read artifacts of run ${options.runId}: repository must be owner/name (got "${repository ?? ''}")`);
    }
    if (!options.token) {
        throw new Error(`cannot read artifacts of run ${options.runId}: a token with actions:read on ${repository} is needed`);
    }
    return {
        findBy: { token: options.token, workflowRunId: options.runId, repositoryOwner: owner, repositoryName: repo }
    };
}
async function listFiles(dir) {
    const entries = await node_fs_promises__WEBPACK_IMPORTED_MODULE_0__.readdir(dir, { withFileTypes: true });
    const nested = await Promise.all(entries.map(async (entry) => {
        const full = node_path__WEBPACK_IMPORTED_MODULE_1__.join(dir, entry.name);
        if (entry.isDirectory())
            return listFiles(full);
        return entry.isFile() ? [full] : [];
    }));
    return nested.flat();
}
function artifactUrl(id) {
    const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: runId } = process.env;
    if (!server || !repository || !runId)
        return undefined;
    return `${server}/${repository}/actions/runs/${runId}/artifacts/${id}`;
}
// Library errors run over several lines (FAQ links, self-hosted runner advice); the log wants one.
function firstLine(error) {
    const message = error instanceof Error ? error.message : String(error);
    return message.split('\n')[0].trim();
}


/***/ })

};

//# sourceMappingURL=393.index.js.map