"""Label Studio commands: serve, stop, push, pull and import-corpus."""

from __future__ import annotations

import sys

import click

from .base import cli, _write_report, _DATA_DIR_HELP, _LS_CONFIG_HELP, _connection


@cli.command("serve")
@click.option("--data-dir", default=".ls-data", show_default=True, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep 127.0.0.1 unless you mean it.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any free one).")
@click.option("--username", default="admin@localhost", show_default=True, help="E-mail of the first user (login name).")
@click.option("--timeout", default=120.0, show_default=True, type=click.FloatRange(min=1), help="Seconds to wait for the server.")
@click.option("--show-token", is_flag=True, help="Also print the API token (it is otherwise never printed).")
@click.option("--database", "database_url", envvar="DATASET_BUILDER_DATABASE", show_envvar=True,
              help="PostgreSQL: postgresql://USER@HOST:PORT/NAME (no password). Default: the one recorded in DATA_DIR, else SQLite.")
@click.option("--database-password-file", type=click.Path(exists=True, dir_okay=False),
              help="Its password, first line (else env DATASET_BUILDER_DB_PASSWORD, PGPASSWORD); kept only in DATA_DIR/pgpass.")
def serve_cmd(data_dir, host, port, username, timeout, show_token, database_url, database_password_file):
    """Start a local Label Studio in the background (or reuse the one already running).

    SQLite (or, with --database, only uploads and exports) and the secrets live in DATA_DIR. On
    first start a user, a random password and a random API token are created; password and token
    are stored in DATA_DIR (mode 0600) and never printed unless asked. 'push' and 'pull' find the
    server and its token there by themselves. Stop it with 'dataset-builder stop'.

    \b
    Example:
      dataset-builder serve && dataset-builder push segments.jsonl --config entities_stance
    """
    from ..label_studio import database_from_options, start_server

    database = database_from_options(database_url, database_password_file)
    info = start_server(data_dir, host=host, port=port, username=username, timeout=timeout, database=database)
    state = "already running" if info.reused else "started"
    click.echo(f"Label Studio {state} at {info.url} (pid {info.pid}, data in {info.data_dir})")
    click.echo(f"database: {'SQLite, in the data folder' if info.database == 'sqlite' else info.database}")
    click.echo(f"log in as: {info.username}")
    click.echo(f"password:  in {info.password_file} (mode 0600; e.g. cat {info.password_file})")
    click.echo(f"API token: in {info.token_file} (push/pull read it from there; or export LABEL_STUDIO_API_KEY)")
    if show_token:
        click.echo(f"API token value: {info.api_key}")
    click.echo(f"stop it with: dataset-builder stop --data-dir {data_dir}")


@cli.command("stop")
@click.option("--data-dir", default=".ls-data", show_default=True, type=click.Path(file_okay=False), help=_DATA_DIR_HELP)
def stop_cmd(data_dir):
    """Stop the local Label Studio started by 'serve' (by its recorded pid). Data is kept."""
    from ..label_studio import stop_server

    report = stop_server(data_dir)
    if report.was_running:
        how = " (had to be killed)" if report.killed else ""
        click.echo(f"stopped Label Studio pid {report.pid}{how}; data kept in {report.data_dir}")
    else:
        click.echo(f"no Label Studio running for {report.data_dir}")


@cli.command("push")
@click.argument("segments", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", "config", required=True,
              help="Labelling config: a bundled name (entities_stance, entities, target_stance) or an .xml path.")
@click.option("--project-title", default=None, help="Project to create or reuse (default: the config name).")
@click.option("--articles", type=click.Path(exists=True, dir_okay=False),
              help="articles.jsonl to take each task's title and date from (by article_id).")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False),
              help="JSONL of pre-annotations, one per segment_id: {segment_id, entities, stances, score?} or {segment_id, result}.")
@click.option("--model-version", default=None, help="model_version of the pre-annotations (needed with --predictions).")
@click.option("--annotators", type=click.IntRange(min=1), default=1, show_default=True,
              help="Annotators per task: Label Studio's labelling stream gives each task to this many different "
                   "people, tasks others began first (pushing again with another number updates the project).")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1), help="Tasks per import request.")
@click.option("--retries", default=6, show_default=True, type=click.IntRange(min=0),
              help="Retries per request on connection errors and 5xx, with exponential back-off.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the JSON report here.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def push_cmd(segments, config, project_title, articles, predictions, model_version, annotators, batch_size, retries,
             report_path, ls_config, data_dir):
    """Import SEGMENTS (JSONL from 'segment') as Label Studio tasks, once each.

    Creates the project from the config or reuses the one with that title. Segments whose
    segment_id the project already has are skipped, so pushing again, or after a crash or a
    lost connection, imports only what is missing. Exit code 1 when the server refused some tasks.

    \b
    Example:
      dataset-builder push out/segments.jsonl --config entities_stance --articles out/articles.jsonl
    """
    from tqdm import tqdm

    from ..label_studio import PushStopped, RetryPolicy, push_segments

    conn = _connection(ls_config, data_dir)
    try:
        with tqdm(desc="push", unit="task", disable=None, file=sys.stderr) as bar:
            report = push_segments(conn, segments, config, project_title=project_title, articles=articles,
                                   predictions=predictions, model_version=model_version, annotators=annotators,
                                   batch_size=batch_size,
                                   retry=RetryPolicy(retries=retries), on_batch=bar.update)
    except PushStopped as exc:  # what was done before it stopped still goes in the report
        if report_path:
            _write_push_report(report_path, exc.report)
        raise
    if report_path:
        _write_push_report(report_path, report)
    shown = (*report.rejections, *report.prediction_rejections)
    for rejection in shown[:20]:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    if len(shown) > 20:
        click.echo(f"... and {len(shown) - 20} more rejected (see --report)", err=True)
    d = report.to_dict()
    click.echo(
        f"project {d['project_title']!r} (id {d['project_id']}{', created' if d['project_created'] else ''}): "
        f"read {d['read']}, already present {d['already_present']}, imported {d['imported']}, "
        f"rejected {d['rejected']} (failed {d['failed']}), predictions {d['predictions']}"
    )
    if report.failed:
        raise click.exceptions.Exit(1)


def _write_push_report(path, report) -> None:
    _write_report(path, {**report.to_dict(), "rejections": [r.to_dict() for r in report.rejections],
                         "prediction_rejections": [r.to_dict() for r in report.prediction_rejections]})


@cli.command("pull")
@click.option("--project-title", required=True, help="Project to export.")
@click.option("--out", "out_dir", default="exports", show_default=True, type=click.Path(file_okay=False),
              help="Snapshots go to OUT/<project-slug>/<UTC time>-<sha256[:12]>/.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def pull_cmd(project_title, out_dir, ls_config, data_dir):
    """Snapshot a project's annotations and keep the raw export byte-for-byte.

    Writes export.json (Label Studio JSON, as served), label_config.xml (the project's config) and
    manifest.json (project id, config name and hash, task and annotation counts, time, sha256).

    \b
    Example:
      dataset-builder pull --project-title entities_stance --out exports
    """
    from ..label_studio import pull_export

    report = pull_export(_connection(ls_config, data_dir), project_title, out_dir=out_dir)
    m = report.manifest
    click.echo(f"{m['task_count']} tasks, {m['annotation_count']} annotations ({m['cancelled_annotation_count']} of "
               f"them cancelled) -> {report.export_path} (manifest: {report.manifest_path})")


@cli.command("import-corpus")
@click.argument("fmt", metavar="FORMAT", type=click.Choice(["conll", "newsmtsc", "semeval2016", "fnc1", "pairs"]))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--config", default=None,
              help="Labelling config  [default: conll -> entities, newsmtsc -> target_stance, "
                   "semeval2016 and pairs -> given_target_stance, fnc1 -> headline_stance]")
@click.option("--bodies", default=None, type=click.Path(exists=True, dir_okay=False),
              help="fnc1: the bodies CSV (Body ID, articleBody)  [default: the stances file's name with 'stances' -> "
                   "'bodies', e.g. train_bodies.csv]")
@click.option("--columns", default=None,
              help="pairs: which column is what, ROLE=COLUMN,... with roles text, target, label (required; default: "
                   "columns of those names), id, split (optional), e.g. text=articleBody,target=Headline,label=Stance")
@click.option("--project-title", default=None, help="Label Studio project  [default: '<FORMAT> <file name>']")
@click.option("--as", "mode", type=click.Choice(["annotations", "predictions"]), default="annotations",
              show_default=True,
              help="annotations: the corpus's labels are submitted annotations of --annotator (gold); predictions: "
                   "pre-annotations for annotators to correct.")
@click.option("--annotator", default=None,
              help="Who the labels are attributed to: a Label Studio user NAME@localhost (created if missing), or the "
                   "model_version with --as predictions  [default: conll2003-gold, newsmtsc-gold, semeval2016-gold]")
@click.option("--ground-truth/--no-ground-truth", default=True, show_default=True,
              help="Mark the imported annotations ground truth, so that normalise takes them as gold over any "
                   "annotator's votes; --no-ground-truth makes the corpus one voter among the annotators.")
@click.option("--label-map", default=None,
              help="Corpus label -> config label, 'A=B,C=D' or a JSON file; 'A=' drops label A. Laid over the "
                   "defaults (newsmtsc 2=against,4=neutral,6=favor; semeval2016 FAVOR=favor,AGAINST=against,"
                   "NONE=neutral).")
@click.option("--scheme", type=click.Choice(["auto", "iob1", "iob2"]), default="auto", show_default=True,
              help="CoNLL tagging scheme; auto decides from the whole file.")
@click.option("--encoding", default="auto", show_default=True,
              help="conll/semeval2016 file encoding; auto tries UTF-8, then cp1252.")
@click.option("--skip-invalid", is_flag=True,
              help="Reject and report a sentence/target/tweet with a problem instead of stopping at the first one.")
@click.option("--id-prefix", default=None,
              help="Prefix of the article/segment ids  [default: '<FORMAT>-<file name without .txt/.tsv/.jsonl...>', "
                   "e.g. conll-eng-train]")
@click.option("--split", "official_split", type=click.Choice(["train", "validation", "test"]), default=None,
              help="The file's official split: pins every article to it (meta split in articles.jsonl), and "
                   "'split --articles' keeps it there, so scores compare with published ones.")
@click.option("-o", "--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for articles.jsonl, segments.jsonl, annotations.jsonl, report.json, push.json  "
                   "[default: out/import-<FORMAT>-<file stem>]")
@click.option("--no-push", is_flag=True, help="Only read the corpus and write the files; do not contact Label Studio.")
@click.option("--annotators", type=click.IntRange(min=1), default=1, show_default=True,
              help="Annotators per task: Label Studio's labelling stream gives each task to this many different "
                   "people, tasks others began first (pushing again with another number updates the project).")
@click.option("--batch-size", default=5000, show_default=True, type=click.IntRange(min=1), help="Tasks per import request.")
@click.option("--ls-config", type=click.Path(exists=True, dir_okay=False), help=_LS_CONFIG_HELP)
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the local server started by 'serve', to find its URL and token [default: .ls-data].")
def import_corpus_cmd(fmt, path, config, bodies, columns, project_title, mode, annotator, ground_truth, label_map, scheme, encoding,
                      skip_invalid, id_prefix, official_split, out_dir, no_push, annotators, batch_size, ls_config,
                      data_dir):
    """Bring an annotated corpus in: articles, segments and Label Studio tasks carrying its labels.

    \b
    FORMAT:
      conll        CoNLL-2003 columns (token ... NER tag), IOB1 or IOB2, -DOCSTART- between documents
      newsmtsc     NewsMTSC JSONL: sentence_normalized + targets {from, to (exclusive), mention, polarity}
      semeval2016  SemEval-2016 Task 6 TSV: ID, Target, Tweet, Stance[, extra columns kept as metadata]
      fnc1         FNC-1 stances CSV (Headline, Body ID, Stance) joined with its bodies CSV; competition_test_*
                   files are pinned to the test split
      pairs        any CSV/TSV/JSONL of (text, given target, label) rows; --columns says which column is what

    The labels then go through pull, normalise, split, build and benchmark like annotations made in
    the UI. Running it again imports nothing twice. A malformed file stops at the first problem with
    its file:line (or, with --skip-invalid, every problem is reported and the rest imported).

    \b
    Example:
      dataset-builder import-corpus conll eng.train --project-title "CoNLL-2003 train"
      dataset-builder import-corpus semeval2016 train.txt --as predictions --annotator semeval-labels

    \b
    Keep a corpus's official split (one project, one file per split; see docs/import_corpus.md):
      dataset-builder import-corpus conll eng.train --split train --project-title CoNLL-2003 -o in/train
      dataset-builder import-corpus conll eng.testb --split test --project-title CoNLL-2003 -o in/test
    """
    from pathlib import Path

    from tqdm import tqdm

    from .. import corpora

    corpus = corpora.read_corpus(
        fmt, path, config, label_map=label_map, annotator=annotator,
        scheme=scheme if fmt == "conll" else None, encoding=None if fmt == "newsmtsc" else encoding,
        on_error="skip" if skip_invalid else "raise", id_prefix=id_prefix, split=official_split,
        bodies=bodies, columns=columns,
    )
    out = Path(out_dir or f"out/import-{fmt}-{corpora.file_stem(path)}")
    paths = corpora.write_corpus(corpus, out)
    report = corpus.report
    for rejection in report.rejections[:20]:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    if len(report.rejections) > 20:
        click.echo(f"... and {len(report.rejections) - 20} more rejected (see {paths['report.json']})", err=True)
    click.echo(report.summary())
    click.echo(f"wrote {', '.join(str(p) for p in paths.values())}")
    if no_push:
        return

    from ..label_studio import PushStopped, push_corpus

    name = corpus.annotator
    who = name if mode == "predictions" or "@" in name else f"{name}@localhost"
    title = project_title or f"{fmt} {Path(path).name}"
    conn = _connection(ls_config, data_dir)
    try:
        with tqdm(desc="push", unit="task", disable=None, file=sys.stderr) as bar:
            pushed = push_corpus(conn, corpus.segment_rows(), {r["segment_id"]: r for r in corpus.label_rows()},
                                 corpus.schema, project_title=title, mode=mode, annotator=who,
                                 ground_truth=ground_truth, annotators=annotators, batch_size=batch_size,
                                 on_batch=bar.update)
    except PushStopped as exc:  # what was done before it stopped still goes in push.json
        _write_push_report(out / "push.json", exc.report)
        raise
    _write_report(out / "push.json", {**pushed.to_dict(),
                                      "rejections": [r.to_dict() for r in pushed.push.rejections]})
    for rejection in pushed.push.rejections[:20]:
        click.echo(f"rejected ({rejection.reason}): {rejection.source}: {rejection.detail}", err=True)
    d = pushed.to_dict()
    what = (f"annotations by {d['annotator']} (ground truth: {d['ground_truth']})" if mode == "annotations"
            else f"predictions of model_version {d['annotator']!r}")
    click.echo(
        f"project {d['project_title']!r} (id {d['project_id']}{', created' if d['project_created'] else ''}): "
        f"read {d['read']}, already present {d['already_present']}, imported {d['imported']}, rejected {d['rejected']}; "
        f"{what}: {d['labels_with_new_tasks']} with new tasks, {d['labels_added_to_existing_tasks']} added to "
        f"existing tasks, {d['labels_already_present']} already there, {d['labels_skipped']} not sent"
    )
    if pushed.push.failed:
        raise click.exceptions.Exit(1)
