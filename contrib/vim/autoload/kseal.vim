" kseal.vim, the work: decrypt into the buffer, re-encrypt on write, keep the plaintext off disk.
" The plaintext only travels through pipes to and from kseal (jobs in Vim and Neovim): Vim's
" system() and :! write their input and output to temporary files, so they are never used here.

" The command line of kseal: g:kseal_command (a string or a list), then the identities.
function! s:kseal(args) abort
  let l:cmd = get(g:, 'kseal_command', 'kseal')
  let l:argv = type(l:cmd) == v:t_list ? copy(l:cmd) : [l:cmd]
  let l:ids = []
  for l:id in get(g:, 'kseal_identity', [])
    let l:ids += ['--identity', expand(l:id)]
  endfor
  " The subcommand comes first, its --identity flags right after it.
  return l:argv + a:args[:0] + l:ids + a:args[1:]
endfunction

" Runs argv with `input` on its stdin (v:null: nothing) and returns [exit code, stdout,
" stderr]; -1 when it could not start or did not finish within g:kseal_timeout seconds.
function! kseal#run(argv, input) abort
  return has('nvim') ? s:run_nvim(a:argv, a:input) : s:run_vim(a:argv, a:input)
endfunction

function! s:run_vim(argv, input) abort
  let l:out = []
  let l:err = []
  let l:job = job_start(a:argv, {
        \ 'in_io': 'pipe', 'out_mode': 'raw', 'err_mode': 'raw',
        \ 'out_cb': {ch, msg -> add(l:out, msg)},
        \ 'err_cb': {ch, msg -> add(l:err, msg)},
        \ 'stoponexit': 'kill'})
  if job_status(l:job) ==# 'fail'
    return [-1, '', 'cannot run ' . a:argv[0]]
  endif
  let l:ch = job_getchannel(l:job)
  if a:input isnot v:null
    call ch_sendraw(l:ch, a:input)
  endif
  call ch_close_in(l:ch)
  let l:deadline = reltime()
  let l:limit = get(g:, 'kseal_timeout', 60)
  " Callbacks run while Vim sleeps; done when the process is gone and its pipes are drained.
  while job_status(l:job) ==# 'run' || ch_status(l:ch) !=# 'closed'
    if reltimefloat(reltime(l:deadline)) > l:limit
      call job_stop(l:job, 'kill')
      return [-1, '', a:argv[0] . ' did not finish within ' . l:limit . ' s (g:kseal_timeout)']
    endif
    sleep 5m
  endwhile
  return [job_info(l:job).exitval, join(l:out, ''), join(l:err, '')]
endfunction

" Neovim's on_stdout gives lines split at NL, the first one continuing the last one received.
function! s:collect(acc, data) abort
  let a:acc[-1] .= a:data[0]
  call extend(a:acc, a:data[1:])
endfunction

" detach: its own session, as Vim's jobs: kseal cannot open the editor's terminal to ask for
" a passphrase in the middle of the screen (it fails with a message instead).
function! s:run_nvim(argv, input) abort
  let l:out = ['']
  let l:err = ['']
  try
    let l:job = jobstart(a:argv, {
          \ 'on_stdout': {j, d, e -> s:collect(l:out, d)},
          \ 'on_stderr': {j, d, e -> s:collect(l:err, d)},
          \ 'stdin': 'pipe', 'detach': v:true})
  catch
    return [-1, '', 'cannot run ' . a:argv[0] . ': ' . v:exception]
  endtry
  if l:job <= 0
    return [-1, '', 'cannot run ' . a:argv[0]]
  endif
  if a:input isnot v:null
    call chansend(l:job, a:input)
  endif
  call chanclose(l:job, 'stdin')
  let l:limit = get(g:, 'kseal_timeout', 60)
  let l:code = jobwait([l:job], l:limit * 1000)[0]
  if l:code == -1
    call jobstop(l:job)
    return [-1, '', a:argv[0] . ' did not finish within ' . l:limit . ' s (g:kseal_timeout)']
  endif
  return [l:code, join(l:out, "\n"), join(l:err, "\n")]
endfunction

" Shows kseal's error in the command line (its messages never contain a secret value).
function! s:error(what, err) abort
  let l:lines = filter(split(a:err, "\n"), 'v:val !~# "^\\s*$"')
  let v:errmsg = 'kseal: ' . a:what . (empty(l:lines) ? '' : ': ' . join(l:lines, ' | '))
  echohl ErrorMsg
  echomsg v:errmsg
  echohl None
endfunction

" The file's bytes as a hash: the write checks the file is still the one that was decrypted.
function! s:file_hash(path) abort
  return filereadable(a:path) ? sha256(join(readfile(a:path, 'b'), "\n")) : ''
endfunction

" What must never leave this buffer: swap, undo file, viminfo/ShaDa, and writes by Vim itself.
" 'nomodeline': the decrypted text is the file author's, and its modelines (run after
" BufReadPost) could turn the swap and undo files back on.
function! s:protect() abort
  setlocal noswapfile noundofile nomodeline
  " Registers, command-line and search history can hold plaintext: keep the viminfo/ShaDa
  " file from storing this session's (g:kseal_keep_viminfo = 1 keeps the user's setting).
  if !get(g:, 'kseal_keep_viminfo', 0)
    if has('nvim')
      set shada=
    else
      set viminfo=
    endif
  endif
  augroup kseal_buffer
    autocmd! * <buffer>
    autocmd BufWriteCmd <buffer> call kseal#write(expand('<afile>:p'), v:cmdbang)
    autocmd FileWriteCmd,FileAppendCmd <buffer> call s:refuse(expand('<afile>:p'))
  augroup END
endfunction

" Replaces the buffer's lines with `text` and drops the undo history (it held the ciphertext).
function! s:set_text(text) abort
  let l:lines = split(a:text, "\n", 1)
  let l:eol = !empty(l:lines) && l:lines[-1] ==# ''
  if l:eol
    call remove(l:lines, -1)
  endif
  let l:dos = !empty(l:lines) && len(filter(copy(l:lines), 'v:val !~# "\r$"')) == 0
  if l:dos
    call map(l:lines, 'v:val[:-2]')
  endif
  let l:undolevels = &l:undolevels
  setlocal undolevels=-1
  silent keepjumps call setline(1, l:lines)
  if line('$') > len(l:lines)
    silent keepjumps execute (len(l:lines) + 1) . ',$delete _'
  endif
  let &l:undolevels = l:undolevels
  let &l:fileformat = l:dos ? 'dos' : 'unix'
  let &l:endofline = l:eol
  setlocal nomodified
endfunction

" The buffer as kseal must receive it: lines joined, the final newline as the file had it.
function! s:buffer_text() abort
  let l:nl = &l:fileformat ==# 'dos' ? "\r\n" : "\n"
  let l:text = join(getline(1, '$'), l:nl)
  return (&l:endofline || &l:fixendofline) ? l:text . l:nl : l:text
endfunction

" Decrypts `path` into the current buffer (called right after Vim read the ciphertext).
function! kseal#open(path) abort
  if &l:modified
    return s:error('the buffer has unsaved changes', ':w them or :e! to drop them')
  endif
  call s:protect()
  let [l:code, l:out, l:err] = kseal#run(s:kseal(['decrypt', a:path]), v:null)
  if l:code != 0
    " Keep the ciphertext on screen; writing it back is harmless.
    call s:error('cannot decrypt ' . fnamemodify(a:path, ':~:.'), l:err)
    call kseal#forget()
    return
  endif
  let l:ft = &l:filetype
  call s:set_text(l:out)
  let l:out = ''
  if l:ft ==# ''
    let &l:filetype = getline(1) =~# '^\s*[{[]' ? 'json' : 'yaml'
  endif
  let b:kseal_file = a:path
  let b:kseal_new = 0
  let b:kseal_disk = s:file_hash(a:path)
  let b:kseal_plain = sha256(s:buffer_text())
endfunction

" The buffer holds no plaintext any more: :w writes it as Vim does ('noswapfile' stays).
function! kseal#forget() abort
  unlet! b:kseal_file b:kseal_new b:kseal_disk b:kseal_plain
  augroup kseal_buffer
    autocmd! * <buffer>
  augroup END
endfunction

" A new file matching g:kseal_patterns: protected, and :w encrypts it for its .sops.yaml rule.
function! kseal#new(path) abort
  call s:protect()
  let b:kseal_file = a:path
  let b:kseal_new = 1
  let b:kseal_disk = ''
  let b:kseal_plain = ''
endfunction

function! s:refuse(target) abort
  call s:error('refusing to write the plaintext of ' . expand('%:~:.') . ' to ' . fnamemodify(a:target, ':~:.'), 'the whole buffer is written encrypted by :w, to its own file only')
endfunction

" BufWriteCmd: the buffer's text goes to kseal on a pipe; kseal writes the file atomically
" (temporary file in the same directory, fsync, rename). On error nothing is written and the
" buffer stays modified, so :wq does not quit.
function! kseal#write(target, bang) abort
  if !exists('b:kseal_file')
    return s:error('this buffer was not decrypted', ':e! to reload it')
  endif
  if a:target !=# b:kseal_file
    return s:refuse(a:target)
  endif
  let l:text = s:buffer_text()
  if !b:kseal_new && sha256(l:text) ==# b:kseal_plain
    setlocal nomodified
    echomsg 'kseal: no changes, ' . expand('%:~:.') . ' left as it was'
    return
  endif
  if !a:bang && s:file_hash(b:kseal_file) !=# b:kseal_disk
    return s:error(expand('%:~:.') . ' changed on disk since it was decrypted', ':e! reloads it (your changes are lost), :w! overwrites it')
  endif
  let l:args = b:kseal_new
        \ ? ['encrypt', '-o', b:kseal_file, '-']
        \ : ['encrypt', '--previous', b:kseal_file, '-o', b:kseal_file, '-']
  let [l:code, l:out, l:err] = kseal#run(s:kseal(l:args), l:text)
  if l:code != 0
    return s:error('not written, ' . expand('%:~:.') . ' is unchanged', l:err)
  endif
  let b:kseal_new = 0
  let b:kseal_disk = s:file_hash(b:kseal_file)
  let b:kseal_plain = sha256(l:text)
  setlocal nomodified
  echomsg 'kseal: ' . expand('%:~:.') . ' encrypted and written'
endfunction
