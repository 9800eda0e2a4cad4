" kseal.vim: edit kseal/sops-encrypted Kubernetes Secrets in place in Vim 9 and Neovim 0.7+.
" This file only recognises encrypted files; the work is in autoload/kseal.vim, loaded on the
" first encrypted file. See :help kseal.
if exists('g:loaded_kseal') || &compatible
  finish
endif
if !has('nvim-0.7') && !(v:version >= 900 && has('job') && has('channel'))
  " Vim's system() writes its input and output to temporary files: without jobs, decrypting
  " would put plaintext on disk, so the plugin stays off.
  finish
endif
let g:loaded_kseal = 1

" A sops document: a top-level `sops:` mapping (YAML) or key (JSON) and its `mac: ENC[...]`.
let s:sops_key = '\v^%(sops:|\s*"sops"\s*:)'
let s:sops_mac = '\v^\s*"?mac"?\s*:\s*"?ENC\['

function! s:matches_pattern(path) abort
  for l:pat in get(g:, 'kseal_patterns', [])
    let l:subject = l:pat =~# '/' ? a:path : fnamemodify(a:path, ':t')
    if l:subject =~# glob2regpat(l:pat)
      return 1
    endif
  endfor
  return 0
endfunction

" A sops file by content: read before Vim reads it, so that no swap file is made for it.
" Files over 16 MiB are not Secrets: they are not read twice.
function! s:is_sops_file(path) abort
  let l:size = getfsize(a:path)
  if l:size <= 0 || l:size > 16777216 || !filereadable(a:path)
    return 0
  endif
  let l:lines = readfile(a:path)
  return match(l:lines, s:sops_key) >= 0 && match(l:lines, s:sops_mac) >= 0
endfunction

" BufReadPre: ours? Then no swap or undo file before Vim reads the (encrypted) file.
function! s:before_read() abort
  unlet! b:kseal_pending
  if &buftype !=# ''
    return
  endif
  let l:path = expand('<afile>:p')
  if s:matches_pattern(l:path) || (get(g:, 'kseal_detect', 1) && s:is_sops_file(l:path))
    " No modelines either: they run after BufReadPost, on the decrypted text, and a file
    " pushed by someone without a key can carry `vim: set swapfile undofile:`.
    setlocal noswapfile noundofile nomodeline
    let b:kseal_pending = 1
  elseif exists('b:kseal_file')
    " Reloaded (:e!) and no longer encrypted: an ordinary buffer from now on.
    call kseal#forget()
  endif
endfunction

" BufReadPost: the buffer holds the ciphertext Vim read; kseal decrypts the file into it.
function! s:after_read() abort
  if get(b:, 'kseal_pending', 0)
    unlet b:kseal_pending
    call kseal#open(expand('<afile>:p'))
  endif
endfunction

function! s:on_new() abort
  if &buftype ==# '' && s:matches_pattern(expand('<afile>:p'))
    call kseal#new(expand('<afile>:p'))
  endif
endfunction

augroup kseal
  autocmd!
  autocmd BufReadPre * call s:before_read()
  autocmd BufReadPost * call s:after_read()
  autocmd BufNewFile * call s:on_new()
augroup END

command! -bar KsealDecrypt call kseal#open(expand('%:p'))
