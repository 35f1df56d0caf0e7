local _tr_request='["snapshot"' _tr_arg _tr_reply _tr_out _tr_i _tr_c
for _tr_arg in "$@"; do
  _tr_arg=${_tr_arg//\\/\\\\}
  _tr_arg=${_tr_arg//\"/\\\"}
  if [[ $_tr_arg == *[$'\x01'-$'\x1f']* ]]; then
    _tr_out=
    for ((_tr_i = 0; _tr_i < ${#_tr_arg}; _tr_i++)); do
      _tr_c=${_tr_arg:_tr_i:1}
      case $_tr_c in
        [$'\x01'-$'\x1f']) printf -v _tr_c '\\u%04x' "'$_tr_c" ;;
      esac
      _tr_out+=$_tr_c
    done
    _tr_arg=$_tr_out
  fi
  _tr_request+=",\"$_tr_arg\""
done
printf '%s]\n' "$_tr_request" >&"${_taskrunner_request_pipe:?snapshot works only inside a tr-run task}"
IFS= read -r _tr_reply <&"$_taskrunner_response_pipe" ||
  _tr_reply='echo "snapshot: no answer from tr-run" >&2; exit 1'
eval "$_tr_reply"
