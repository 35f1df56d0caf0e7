complete -c tr-check -l context -d 'The status\'s name, such as the task name' -r
complete -c tr-check -l description -d 'A short description (at most 140 characters are kept)' -r
complete -c tr-check -l target-url -d 'The link shown beside the status' -r
complete -c tr-check -l sha -d 'The commit to report on (default: `git rev-parse HEAD`)' -r
complete -c tr-check -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-check -s V -l version -d 'Print version'
