complete -c tr-lock -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-lock -s V -l version -d 'Print version'
