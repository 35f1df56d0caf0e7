complete -c tr-hash -l raw -d 'A string that is an input itself' -r
complete -c tr-hash -l env -d 'An environment variable whose value is an input; unset differs from empty. Only a digest of the value is ever shown' -r
complete -c tr-hash -l input-cmd -d 'A command whose output is an input, run with `bash -c`; it must exit with status 0' -r
complete -c tr-hash -l job -d 'The task whose saved hash to check or explain' -r
complete -c tr-hash -l explain -d 'Print the hashed text, one input per line, instead of the hash; with --job, the difference from the task\'s saved hash input'
complete -c tr-hash -l check -d 'Exit with status 0 when the task\'s saved hash matches the inputs, 1 when it does not'
complete -c tr-hash -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-hash -s V -l version -d 'Print version'
