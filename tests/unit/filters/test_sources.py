"""What each source's filter sees: decoding of the payload and Lambda's format-mismatch rules."""

from __future__ import annotations

import json

import pytest
from filters_support import dynamodb_record, kafka_record, kinesis_record, sqs_record

from batchmap.errors import FilterError
from batchmap.filters import FilterCriteria, Verdict

JSON_BODY = json.dumps({"RecordNumber": 1234, "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "AAAA"})


class TestSqs:
    def test_the_aws_example_filters_on_the_json_body(self) -> None:
        accept = FilterCriteria.of({"body": {"RequestCode": ["BBBB"]}}).for_shape("sqs")
        assert not accept.matches(sqs_record(JSON_BODY))
        assert accept.matches(sqs_record(JSON_BODY.replace("AAAA", "BBBB")))
        assert accept.evaluate(sqs_record(JSON_BODY)).verdict is Verdict.FILTERED_OUT

    def test_plain_string_body_with_plain_string_pattern(self) -> None:
        accept = FilterCriteria.of({"body": [{"prefix": "Test"}]}).for_shape("sqs")
        assert accept.matches(sqs_record("Test message."))
        assert accept.evaluate(sqs_record("Other message.")).verdict is Verdict.FILTERED_OUT

    def test_plain_string_body_with_json_pattern_is_dropped(self) -> None:
        accept = FilterCriteria.of({"body": {"RequestCode": ["AAAA"]}}).for_shape("sqs")
        result = accept.evaluate(sqs_record("RequestCode AAAA"))
        assert result.verdict is Verdict.FORMAT_MISMATCH
        assert not result.matched
        assert "filter 0 matches body as JSON but body is a plain string" in result.reason

    def test_json_body_with_plain_string_pattern_is_dropped(self) -> None:
        accept = FilterCriteria.of({"body": [{"prefix": "{"}]}).for_shape("sqs")
        result = accept.evaluate(sqs_record(JSON_BODY))
        assert result.verdict is Verdict.FORMAT_MISMATCH
        assert "matches body as a plain string but body is JSON" in result.reason

    @pytest.mark.parametrize("body", [JSON_BODY, "plain text", ""])
    def test_no_body_in_the_pattern_filters_on_metadata_only(self, body: str) -> None:
        accept = FilterCriteria.of({"attributes": {"ApproximateReceiveCount": ["1"]}}).for_shape("sqs")
        assert accept.evaluate(sqs_record(body)).verdict is Verdict.MATCHED
        second = sqs_record(body, attributes={"ApproximateReceiveCount": "2"})
        assert accept.evaluate(second).verdict is Verdict.FILTERED_OUT

    def test_message_attributes_are_matchable(self) -> None:
        kind = {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
        attributes = {"kind": kind}
        accept = FilterCriteria.of({"messageAttributes": {"kind": {"stringValue": ["order"]}}}).for_shape("sqs")
        assert accept.matches(sqs_record("x", messageAttributes=attributes))
        assert not accept.matches(sqs_record("x"))

    def test_bodies_that_are_json_scalars_count_as_plain_strings(self) -> None:
        accept = FilterCriteria.of({"body": ["123"]}).for_shape("sqs")
        assert accept.matches(sqs_record("123"))
        assert FilterCriteria.of({"body": ['"quoted"']}).for_shape("sqs").matches(sqs_record('"quoted"'))

    def test_a_json_array_body_is_json(self) -> None:
        accept = FilterCriteria.of({"body": {"sku": ["a"]}}).for_shape("sqs")
        assert accept.matches(sqs_record('[{"sku": "b"}, {"sku": "a"}]'))

    def test_malformed_json_is_a_plain_string(self) -> None:
        accept = FilterCriteria.of({"body": {"a": [1]}}).for_shape("sqs")
        assert accept.evaluate(sqs_record('{"a": 1')).verdict is Verdict.FORMAT_MISMATCH
        assert FilterCriteria.of({"body": ['{"a": 1']}).for_shape("sqs").matches(sqs_record('{"a": 1'))

    def test_filters_are_ored_and_the_first_match_is_named(self) -> None:
        accept = FilterCriteria.of({"body": {"a": [1]}}, {"body": {"a": [2]}}).for_shape("sqs")
        result = accept.evaluate(sqs_record('{"a": 2}'))
        assert result.verdict is Verdict.MATCHED
        assert result.filter_index == 1
        assert result.reason == "matched filter 1"
        assert accept.evaluate(sqs_record('{"a": 3}')).verdict is Verdict.FILTERED_OUT

    def test_one_filter_mismatching_the_format_does_not_stop_another_from_matching(self) -> None:
        accept = FilterCriteria.of({"body": {"a": [1]}}, {"body": [{"prefix": "hello"}]}).for_shape("sqs")
        assert accept.evaluate(sqs_record("hello world")).filter_index == 1
        assert accept.evaluate(sqs_record('{"a": 1}')).filter_index == 0
        assert accept.evaluate(sqs_record("bye")).verdict is Verdict.FORMAT_MISMATCH


class TestKinesis:
    def test_the_aws_example_on_metadata_and_data(self) -> None:
        pattern = {"partitionKey": ["1"], "data": {"Location": ["Los Angeles"]}}
        accept = FilterCriteria.of(pattern).for_shape("kinesis")
        assert accept.matches(kinesis_record(json.dumps({"Location": "Los Angeles"})))
        assert not accept.matches(kinesis_record(json.dumps({"Location": "Los Angeles"}), partition_key="2"))
        assert not accept.matches(kinesis_record(json.dumps({"Location": "Seattle"})))

    def test_numeric_range_on_data(self) -> None:
        accept = FilterCriteria.of({"data": {"Temperature": [{"numeric": [">", 50, "<=", 60]}]}}).for_shape("kinesis")
        assert accept.matches(kinesis_record('{"Temperature": 55}'))
        assert not accept.matches(kinesis_record('{"Temperature": 61}'))

    def test_non_json_data_with_a_data_pattern_is_dropped(self) -> None:
        accept = FilterCriteria.of({"data": {"a": [1]}}).for_shape("kinesis")
        result = accept.evaluate(kinesis_record("Hello, this is a test."))
        assert result.verdict is Verdict.FORMAT_MISMATCH
        assert "data is a plain string" in result.reason
        binary = accept.evaluate(kinesis_record(b"\xff\xfe\x00"))
        assert binary.verdict is Verdict.FORMAT_MISMATCH
        assert "not decodable" in binary.reason

    def test_non_json_data_without_a_data_pattern_filters_on_metadata(self) -> None:
        accept = FilterCriteria.of({"partitionKey": ["1"], "eventName": ["aws:kinesis:record"]}).for_shape("kinesis")
        assert accept.evaluate(kinesis_record(b"\xff\xfe")).verdict is Verdict.MATCHED

    def test_a_data_pattern_must_be_json(self) -> None:
        criteria = FilterCriteria.of({"partitionKey": ["1"]}, {"data": [{"prefix": "x"}]})
        with pytest.raises(FilterError, match=r"Filters\[1\].Pattern: data: for kinesis sources the data pattern"):
            criteria.for_shape("kinesis")

    def test_invalid_base64_is_not_decodable(self) -> None:
        record = kinesis_record("{}")
        record["kinesis"]["data"] = "not base64!"
        accept = FilterCriteria.of({"data": {"a": [{"exists": False}]}}).for_shape("kinesis")
        assert accept.evaluate(record).verdict is Verdict.FORMAT_MISMATCH


class TestDynamoDB:
    def test_the_aws_example_on_keys(self) -> None:
        accept = FilterCriteria.of({"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}).for_shape("dynamodb")
        assert accept.matches(dynamodb_record())
        assert not accept.matches(dynamodb_record(Keys={"Id": {"N": "102"}}))

    def test_top_level_fields_and_images(self) -> None:
        pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"Message": {"S": [{"prefix": "New"}]}}}}
        accept = FilterCriteria.of(pattern).for_shape("dynamodb")
        assert accept.matches(dynamodb_record(NewImage={"Message": {"S": "New item!"}}))
        assert not accept.matches(dynamodb_record("MODIFY", NewImage={"Message": {"S": "New item!"}}))
        assert not accept.matches(dynamodb_record(NewImage={"Message": {"S": "Changed"}}))

    def test_exists_on_a_typed_attribute(self) -> None:
        accept = FilterCriteria.of({"dynamodb": {"NewImage": {"Reviewed": {"BOOL": [{"exists": True}]}}}})
        matcher = accept.for_shape("dynamodb")
        assert matcher.matches(dynamodb_record(NewImage={"Reviewed": {"BOOL": False}}))
        assert not matcher.matches(dynamodb_record(NewImage={"Other": {"S": "x"}}))

    def test_a_dynamodb_pattern_must_be_json(self) -> None:
        with pytest.raises(FilterError, match="for dynamodb sources the dynamodb pattern must be a JSON object"):
            FilterCriteria.of({"dynamodb": ["x"]}).for_shape("dynamodb")


class TestKafka:
    def test_the_aws_example_on_a_json_value(self) -> None:
        accept = FilterCriteria.of({"value": {"device_ID": [{"prefix": "AB"}]}}).for_shape("kafka")
        device = {"device_ID": "AB1234", "session": {"start_time": "yyyy-mm-ddThh:mm:ss", "duration": 162}}
        assert accept.matches(kafka_record(json.dumps(device)))
        assert not accept.matches(kafka_record(json.dumps({**device, "device_ID": "CD1234"})))

    def test_plain_string_value(self) -> None:
        accept = FilterCriteria.of({"value": [{"prefix": "Hello"}]}).for_shape("kafka")
        assert accept.matches(kafka_record("Hello, this is a test."))
        assert not accept.matches(kafka_record("Goodbye"))

    def test_key_is_decoded_too(self) -> None:
        accept = FilterCriteria.of({"key": ["order-7"], "value": {"n": [1]}}).for_shape("kafka")
        assert accept.matches(kafka_record('{"n": 1}', key="order-7"))
        assert not accept.matches(kafka_record('{"n": 1}', key="order-8"))
        assert not accept.matches(kafka_record('{"n": 1}'))

    def test_a_value_that_is_not_utf8_is_filtered_on_metadata_only(self) -> None:
        accept = FilterCriteria.of({"topic": ["mytopic"], "value": {"a": [1]}}).for_shape("kafka")
        result = accept.evaluate(kafka_record(b"\xff\xfe\xfd"))
        assert result.verdict is Verdict.MATCHED
        assert "on metadata only" in result.reason
        other_topic = {**kafka_record(b"\xff\xfe\xfd"), "topic": "other"}
        rejected = accept.evaluate(other_topic)
        assert rejected.verdict is Verdict.FILTERED_OUT
        assert "not decodable" in rejected.reason

    def test_a_format_mismatch_filters_on_metadata_only(self) -> None:
        accept = FilterCriteria.of({"partition": [0], "value": {"a": [1]}}).for_shape("kafka")
        assert accept.evaluate(kafka_record("plain text")).verdict is Verdict.MATCHED
        assert not accept.matches({**kafka_record("plain text"), "partition": 1})
        assert not accept.matches(kafka_record('{"a": 2}')), "a JSON value is still matched normally"

    def test_headers_and_offsets_are_metadata(self) -> None:
        accept = FilterCriteria.of({"offset": [{"numeric": [">=", 10]}], "timestampType": ["CREATE_TIME"]})
        assert accept.for_shape("kafka").matches(kafka_record("x"))


def test_an_unknown_shape_is_refused() -> None:
    with pytest.raises(FilterError, match="unknown record shape 'mq'"):
        FilterCriteria.of({"a": [1]}).for_shape("mq")  # type: ignore[arg-type]


def test_records_are_not_modified_by_matching() -> None:
    record = kinesis_record('{"a": 1}')
    before = json.dumps(record, sort_keys=True)
    FilterCriteria.of({"data": {"a": [1]}}).for_shape("kinesis").evaluate(record)
    assert json.dumps(record, sort_keys=True) == before
