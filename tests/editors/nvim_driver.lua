-- Drives a headless Neovim against `qcn serve` for tests/editors/test_neovim.py.
--
-- The test writes a JSON job (path in $QCN_NVIM_JOB): the Lua file holding docs/neovim.md's
-- configuration block, the overrides (cmd, init_options), the files and cursor positions to use,
-- and where to write the results. Every wait is a vim.wait on a condition with a timeout; the
-- results (or the error that stopped the script) always end up in the result file.

local job = vim.json.decode(table.concat(vim.fn.readfile(os.getenv("QCN_NVIM_JOB")), "\n"),
                            { luanil = { object = true, array = true } })
local out = { log = {}, progress = {}, steps = {} }

local function step(name) table.insert(out.steps, name) end

local function wait_for(what, timeout_ms, cond)
  if not vim.wait(timeout_ms, cond, 50) then
    error("timed out after " .. timeout_ms .. " ms waiting for " .. what, 0)
  end
end

-- Everything qcn says through window/logMessage and $/progress, for the test to read.
local log_message = vim.lsp.handlers["window/logMessage"]
vim.lsp.handlers["window/logMessage"] = function(err, result, ctx)
  table.insert(out.log, result.message)
  return log_message(err, result, ctx)
end
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local value = args.data.params.value
    table.insert(out.progress, { kind = value.kind, title = value.title, message = value.message })
  end,
})

-- Send a request and wait for its answer (the client's own async request, not request_sync,
-- so the event loop keeps running and notifications keep arriving).
local function request(client, method, params, bufnr, timeout_ms)
  local done, answer, failure = false, nil, nil
  client:request(method, params, function(err, result)
    done, answer, failure = true, result, err
  end, bufnr)
  wait_for(method, timeout_ms, function() return done end)
  if failure then error(method .. " failed: " .. vim.inspect(failure), 0) end
  return answer
end

local function main()
  vim.cmd("filetype on")
  dofile(job.config)           -- docs/neovim.md, as written there
  vim.lsp.config("qcn", job.overrides)
  step("configured")

  vim.cmd.edit(vim.fn.fnameescape(job.file))
  local buf = vim.api.nvim_get_current_buf()
  local client
  wait_for("qcn to attach", 60000, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = "qcn" })[1]
    return client ~= nil and client.initialized
  end)
  out.root_dir = client.config.root_dir
  out.capabilities = {
    completion = client.server_capabilities.completionProvider ~= nil,
    inline_completion = client.server_capabilities.inlineCompletionProvider ~= nil,
    code_action = client.server_capabilities.codeActionProvider ~= nil,
  }
  step("attached")
  -- docs/neovim.md's qcn/status handler keeps the server's state in vim.g.qcn_status.
  local function status() return vim.g.qcn_status or { state = "none", index = {} } end
  wait_for("the model to load", 180000, function()
    return status().state == "ready" or status().state == "disabled"
  end)
  wait_for("the index", 180000, function()
    local index = status().index
    if #index == 0 then return false end
    for _, folder in ipairs(index) do
      if folder.state == "indexing" then return false end
    end
    return true
  end)
  out.status = status()
  step("ready")

  -- Completion (the textDocument/completion fallback Neovim 0.11 uses): the first position
  -- where the model has something to say; its item is applied to the buffer as the menu would.
  local uri = vim.uri_from_bufnr(buf)
  for _, pos in ipairs(job.positions) do
    local result = request(client, "textDocument/completion", {
      textDocument = { uri = uri }, position = { line = pos.line, character = pos.character },
    }, buf, 120000)
    local items = result and (result.items or result) or {}
    table.insert(out.steps, "completion at " .. pos.line .. ": " .. #items .. " item(s)")
    if #items > 0 then
      out.completion = { position = pos, is_incomplete = result.isIncomplete, items = items }
      vim.lsp.util.apply_text_edits({ items[1].textEdit }, buf, client.offset_encoding)
      out.completion.line_after = vim.api.nvim_buf_get_lines(buf, pos.line, pos.line + 1, true)[1]
      break
    end
  end

  if job.security_file then
    vim.cmd.edit(vim.fn.fnameescape(job.security_file))
    local sbuf = vim.api.nvim_get_current_buf()
    wait_for("qcn to attach to " .. job.security_file, 30000, function()
      return vim.lsp.get_clients({ bufnr = sbuf, name = "qcn" })[1] ~= nil
    end)
    local function qcn_diagnostics()
      local found = {}
      for _, d in ipairs(vim.diagnostic.get(sbuf)) do
        if d.source == "qcn" then table.insert(found, d) end
      end
      table.sort(found, function(a, b) return a.lnum < b.lnum end)
      return found
    end
    wait_for("qcn's diagnostics", 60000, function() return #qcn_diagnostics() > 0 end)
    out.diagnostics = {}
    for _, d in ipairs(qcn_diagnostics()) do
      table.insert(out.diagnostics, { lnum = d.lnum, col = d.col, code = d.code, message = d.message,
                                      severity = d.severity })
    end
    step("diagnostics")

    -- Code actions on the first diagnostic (topmost), as `gra` would ask for them.
    local first = qcn_diagnostics()[1]
    local lsp_diag = first.user_data.lsp
    local actions = request(client, "textDocument/codeAction", {
      textDocument = { uri = vim.uri_from_bufnr(sbuf) }, range = lsp_diag.range,
      context = { diagnostics = { lsp_diag }, triggerKind = 1 },
    }, sbuf, 60000) or {}
    out.code_actions = {}
    for _, a in ipairs(actions) do
      table.insert(out.code_actions, { title = a.title, kind = a.kind, has_edit = a.edit ~= nil })
    end
    -- Apply the deterministic quick fix (the one that comes with its edit) and watch the
    -- diagnostic go away.
    for _, a in ipairs(actions) do
      if a.edit then
        vim.lsp.util.apply_workspace_edit(a.edit, client.offset_encoding)
        out.fixed_line = vim.api.nvim_buf_get_lines(sbuf, first.lnum, first.lnum + 1, true)[1]
        local code = first.code
        wait_for("the fixed finding to disappear", 60000, function()
          for _, d in ipairs(qcn_diagnostics()) do
            if d.code == code and d.lnum == first.lnum then return false end
          end
          return true
        end)
        out.remaining = #qcn_diagnostics()
        step("fixed")
        break
      end
    end
  end

  client:stop()
  wait_for("qcn to stop", 30000, function() return client:is_stopped() end)
  step("stopped")
end

local ok, err = xpcall(main, debug.traceback)
if not ok then out.error = tostring(err) end
vim.fn.writefile({ vim.json.encode(out) }, job.result)
vim.cmd("qall!")
